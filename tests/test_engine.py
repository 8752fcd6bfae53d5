"""The engine: learning happens, runs repeat exactly, History survives JSON and interrupted writes."""

import json
import os
from dataclasses import replace

import pytest
import torch

import mnist_drill.data
from mnist_drill.engine import DeviceUnavailable, WeightAverage, evaluate, fit, pick_device, set_seed
from mnist_drill.loaders import make_loaders
from mnist_drill.results import History, first_consistent_epoch, verdict


def _numbers(history):
    return [{k: v for k, v in e.items() if k != "seconds"} for e in history.epochs]


def test_loss_falls_on_a_small_subset(mnist_root, tiny_config):
    history = fit(replace(tiny_config, epochs=3, scheduler="none"), save_to=None, progress=False, log=lambda *_: None)
    losses = history.column("train_loss")
    assert losses[-1] < losses[0] * 0.7
    accs = history.column("train_acc")
    assert accs[-1] > accs[0] and accs[-1] > 40  # chance is 10 %; 3 epochs of 8 batches are enough to learn


def test_same_seed_same_history_on_cpu(mnist_root, tiny_config):
    runs = [fit(tiny_config, device="cpu", save_to=None, progress=False, log=lambda *_: None) for _ in range(2)]
    assert _numbers(runs[0]) == _numbers(runs[1])
    other = fit(replace(tiny_config, seed=2), device="cpu", save_to=None, progress=False, log=lambda *_: None)
    assert _numbers(other) != _numbers(runs[0])


def test_log_lines_follow_the_seed(mnist_root, tiny_config, capsys):
    fit(tiny_config, save_to=None, progress=False)
    out = capsys.readouterr().out
    assert "EPOCH: 1 LR: 0.05" in out
    assert "Test set: Average loss: " in out and "/256 (" in out
    assert out.strip().splitlines()[-1].startswith("Verdict: best ")


def test_history_json_round_trip(mnist_root, tiny_config, tmp_path):
    history = fit(tiny_config, save_to=tmp_path / "run.json", progress=False, log=lambda *_: None)
    loaded = History.load(tmp_path / "run.json")
    assert loaded == history  # the attached model is not part of equality or of the JSON
    assert loaded.model is None and loaded.params == history.params
    assert set(loaded.versions) >= {"torch", "torchvision", "python"}
    assert loaded.config["name"] == tiny_config.name and len(loaded.epochs) == 2


def test_interrupted_write_leaves_the_old_file_whole(tmp_path, monkeypatch):
    path = tmp_path / "run.json"
    old = History(config={"name": "x"}, seed=1, params=1, device="cpu", versions={},
                  epochs=[{"epoch": 1, "test_acc": 99.0}])
    old.save(path)

    def crash(*args, **kwargs):
        raise KeyboardInterrupt  # as if the user pressed Ctrl-C between write and rename

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        History(config={"name": "x"}, seed=2, params=1, device="cpu", versions={}).save(path)
    assert json.loads(path.read_text())["seed"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]  # no temp file left behind


def test_weight_average_warms_up_then_follows_weights_and_batchnorm_statistics():
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 1), torch.nn.BatchNorm2d(2))
    average = WeightAverage(model, decay=0.9)
    start = model[0].weight.detach().clone()
    with torch.no_grad():
        model[0].weight.add_(1.0)
        model[1].running_mean.fill_(2.0)
    average.update()  # step 1: decay min(0.9, 2/11), so mostly the new weights
    keep = 2 / 11
    assert torch.allclose(average.model[0].weight, keep * start + (1 - keep) * (start + 1.0))
    assert torch.allclose(average.model[1].running_mean, torch.full((2,), (1 - keep) * 2.0))
    for _ in range(200):
        average.update()
    assert torch.allclose(average.model[0].weight, start + 1.0, atol=1e-6)  # it converges to what it follows
    assert not average.model.training and not any(p.requires_grad for p in average.model.parameters())


def test_fit_with_a_weight_average_reports_the_average(mnist_root, tiny_config):
    config = replace(tiny_config, ema=0.9)
    history = fit(config, save_to=None, progress=False, log=lambda *_: None)
    loaders = make_loaders(config, "cpu", torch.Generator().manual_seed(0), mnist_root)
    _, correct, total = evaluate(history.model, loaders.eval)
    assert (correct, total) == (history.epochs[-1]["test_correct"], history.epochs[-1]["test_total"])
    plain = fit(tiny_config, save_to=None, progress=False, log=lambda *_: None)
    assert plain.column("train_loss") == history.column("train_loss")  # averaging never changes training
    assert plain.model is not history.model


def test_first_consistent_epoch():
    assert first_consistent_epoch([99.0, 99.41, 99.3, 99.4, 99.45, 99.5]) == 4
    assert first_consistent_epoch([99.5, 99.5]) == 1
    assert first_consistent_epoch([99.5, 99.39]) is None
    assert first_consistent_epoch([99.0, 98.0, 99.2], target=99.0) == 3


def test_verdict_names_best_first_consistent_params_and_seconds():
    h = History(config={"name": "x"}, seed=1, params=5216, device="cpu", versions={}, total_seconds=12.5,
                epochs=[{"epoch": i + 1, "test_acc": a, "seconds": 1.0} for i, a in enumerate([99.3, 99.45, 99.42])])
    text = verdict(h)
    assert "best 99.45% at epoch 2" in text and "held from epoch 2" in text and "5,216 params" in text
    assert "12.5 s total" in text


def test_device_choice():
    assert pick_device("cpu").type == "cpu"
    assert pick_device(None).type in ("cpu", "cuda", "mps")
    if not torch.cuda.is_available():
        with pytest.raises(DeviceUnavailable, match="not available"):
            pick_device("cuda")


def test_set_seed_returns_a_seeded_generator():
    a = torch.rand(3, generator=set_seed(7))
    b = torch.rand(3, generator=set_seed(7))
    assert torch.equal(a, b)


def test_missing_data_is_reported_not_silently_used(tmp_path, tiny_config, monkeypatch):
    monkeypatch.setattr(mnist_drill.data, "default_sources", lambda: [("nothing", _fail)])
    with pytest.raises(mnist_drill.data.MnistUnavailable, match="nothing"):
        fit(tiny_config, save_to=None, progress=False, log=lambda *_: None, data_root=tmp_path)


def _fail(raw):
    raise OSError("offline")
