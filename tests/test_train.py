"""The core's training loop: learning happens, runs repeat exactly, History survives JSON and interrupted writes."""

import json
import os
from dataclasses import replace

import pytest
import torch

from mnist_drill.config import Config
from mnist_drill.data import make_loaders
from mnist_drill.devices import pick_device
from mnist_drill.errors import DeviceUnavailable, MnistUnavailable
from mnist_drill.lab.recipes import variant
from mnist_drill.lab.results import load_history
from mnist_drill.lab.runs import train
from mnist_drill.train import (
    History,
    evaluate,
    first_consistent_epoch,
    fit,
    make_optimizer,
    set_seed,
    verdict,
    weight_average,
)


def _numbers(history):
    return [{k: v for k, v in e.items() if k != "seconds"} for e in history.epochs]


def test_loss_falls_on_a_small_subset(mnist_root, tiny_config):
    history = fit(replace(tiny_config, epochs=3, scheduler="none"), progress=False, log=lambda *_: None)
    losses = history.column("train_loss")
    assert losses[-1] < losses[0] * 0.7
    accs = history.column("train_acc")
    assert accs[-1] > accs[0] and accs[-1] > 40  # chance is 10 %; 3 epochs of 8 batches are enough to learn


def test_same_seed_same_history_on_cpu(mnist_root, tiny_config):
    runs = [fit(tiny_config, device="cpu", progress=False, log=lambda *_: None) for _ in range(2)]
    assert _numbers(runs[0]) == _numbers(runs[1])
    other = fit(replace(tiny_config, seed=2), device="cpu", progress=False, log=lambda *_: None)
    assert _numbers(other) != _numbers(runs[0])


def test_log_lines_follow_the_seed(mnist_root, tiny_config, capsys):
    fit(tiny_config, progress=False)
    out = capsys.readouterr().out
    assert "EPOCH: 1 LR: 0.05" in out
    assert "Test set: Average loss: " in out and "/256 (" in out
    assert out.strip().splitlines()[-1].startswith("Verdict: best ")


def test_history_json_round_trip(mnist_root, tiny_config, tmp_path):
    history = train(tiny_config, tmp_path / "run.json", progress=False, log=lambda *_: None)
    loaded = load_history(tmp_path / "run.json")
    assert loaded == history  # the attached model is not part of equality or of the JSON
    assert loaded.model is None and loaded.params == history.params
    assert set(loaded.versions) >= {"torch", "torchvision", "python"}
    assert len(loaded.commit) == 40 and loaded.code_dirty in (True, False) and loaded.command
    assert loaded.config["name"] == tiny_config.name and len(loaded.epochs) == 2


def test_interrupted_write_leaves_the_old_file_whole(tmp_path, monkeypatch):
    path = tmp_path / "run.json"
    old = History(config={"name": "x"}, seed=1, params=1, device="cpu", versions={},
                  epochs=[{"epoch": 1, "eval_acc": 99.0}])
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
    average = weight_average(model, decay=0.9)
    start = model[0].weight.detach().clone()
    average.update_parameters(model)  # update 1 copies the weights
    with torch.no_grad():
        model[0].weight.add_(1.0)
        model[1].running_mean.fill_(2.0)
    average.update_parameters(model)  # update 2: decay min(0.9, 3/12), so mostly the new weights
    keep = 3 / 12
    assert torch.allclose(average.module[0].weight, keep * start + (1 - keep) * (start + 1.0))
    assert torch.allclose(average.module[1].running_mean, torch.full((2,), (1 - keep) * 2.0))
    for _ in range(200):
        average.update_parameters(model)
    assert torch.allclose(average.module[0].weight, start + 1.0, atol=1e-6)  # it converges to what it follows
    assert not average.module.training and not any(p.requires_grad for p in average.module.parameters())
    assert average.module[1].num_batches_tracked == model[1].num_batches_tracked  # copied, not averaged


def test_the_decay_is_a_cap_that_the_warm_up_reaches_late():
    """Below (10 d - 1) / (1 - d) updates the warm-up decides alone: caps of 0.999 and 0.9995 average the same."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 1), torch.nn.BatchNorm2d(2))
    averages = {d: weight_average(model, decay=d) for d in (0.999, 0.9995, 0.95)}
    for _ in range(300):  # 300 updates: the warm-up's decay is 301/310 = 0.971, below 0.999 but above 0.95
        with torch.no_grad():
            model[0].weight.add_(torch.randn_like(model[0].weight))
        for average in averages.values():
            average.update_parameters(model)
    weights = {d: a.module[0].weight for d, a in averages.items()}
    assert torch.equal(weights[0.999], weights[0.9995])
    assert not torch.allclose(weights[0.999], weights[0.95])
    assert round((10 * 0.999 - 1) / (1 - 0.999)) == 8_990 > 15 * 469  # the cap is never reached in 15 epochs


def test_a_smaller_warm_up_reaches_the_cap_early_and_one_means_a_constant_decay():
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 1, 1, bias=False))
    average = {w: weight_average(model, decay=0.9, warm_up=w) for w in (1.0, 2.0, 10.0)}
    for a in average.values():
        a.update_parameters(model)  # update 1 copies the weights
    start = model[0].weight.detach().clone()
    with torch.no_grad():
        model[0].weight.add_(1.0)
    for a in average.values():
        a.update_parameters(model)  # update 2: decay min(0.9, 3 / (w + 2))
    for w, keep in ((1.0, 0.9), (2.0, 3 / 4), (10.0, 3 / 12)):
        assert torch.allclose(average[w].module[0].weight, keep * start + (1 - keep) * (start + 1.0)), w
    with pytest.raises(ValueError, match="ema_warmup must be >= 1"):
        Config(ema_warmup=0.5)


def test_fit_with_a_weight_average_reports_the_average(mnist_root, tiny_config):
    config = replace(tiny_config, ema=0.9)
    history = fit(config, progress=False, log=lambda *_: None)
    loaders = make_loaders(config, "cpu", torch.Generator().manual_seed(0), mnist_root)
    reading = evaluate(history.model, loaders.eval)
    assert reading == {k: history.epochs[-1][k] for k in reading}
    plain = fit(tiny_config, progress=False, log=lambda *_: None)
    assert plain.column("train_loss") == history.column("train_loss")  # averaging never changes training
    assert plain.model is not history.model


def test_the_five_view_reading_is_the_mean_probability_of_five_shifted_views():
    from mnist_drill import augment
    from mnist_drill.models import DrillNet
    from mnist_drill.train import average_views, view_log_probs

    torch.manual_seed(0)
    model = DrillNet("C4 G", dropout=0.0, order="bn-relu").eval()
    x = torch.randn(6, 1, 28, 28)
    with torch.no_grad():
        averaged = average_views(view_log_probs(model, x, 2, background=-0.4))
        views = [augment.shift(x, dx, dy, -0.4) for dx, dy in ((0, 0), (2, 0), (-2, 0), (0, 2), (0, -2))]
        probabilities = torch.stack([model(v).exp() for v in views]).mean(0)
    assert torch.allclose(averaged.exp(), probabilities, atol=1e-6)
    assert torch.allclose(averaged.exp().sum(1), torch.ones(6))


def test_fit_with_tta_trains_the_same_and_evaluates_the_shifted_views(mnist_root, tiny_config):
    config = replace(tiny_config, ema=0.9)
    plain = fit(config, progress=False, log=lambda *_: None)
    averaged = fit(replace(config, tta_shift=1), progress=False, log=lambda *_: None)
    assert averaged.column("train_loss") == plain.column("train_loss")  # training is untouched
    loaders = make_loaders(config, "cpu", torch.Generator().manual_seed(0), mnist_root)
    five = evaluate(averaged.model, loaders.eval, 1, -loaders.mean / loaders.std)
    assert five["five_correct"] == averaged.epochs[-1]["five_correct"]
    one = evaluate(averaged.model, loaders.eval)
    assert one == {k: five[k] for k in one}  # the unshifted view is the one-view reading
    # so a five-view run's eval_* are exactly the one-view run's, and its five views have names of their own
    assert averaged.column("eval_correct") == plain.column("eval_correct")
    assert averaged.column("eval_loss") == plain.column("eval_loss")
    assert "five_correct" in averaged.epochs[-1] and "five_correct" not in plain.epochs[-1]


def test_first_consistent_epoch():
    assert first_consistent_epoch([99.0, 99.41, 99.3, 99.4, 99.45, 99.5]) == 4
    assert first_consistent_epoch([99.5, 99.5]) == 1
    assert first_consistent_epoch([99.5, 99.39]) is None
    assert first_consistent_epoch([99.0, 98.0, 99.2], target=99.0) == 3


def test_verdict_names_best_first_consistent_params_and_seconds():
    h = History(config={"name": "x"}, seed=1, params=5216, device="cpu", versions={}, total_seconds=12.5,
                epochs=[{"epoch": i + 1, "eval_acc": a, "seconds": 1.0} for i, a in enumerate([99.3, 99.45, 99.42])])
    text = verdict(h)
    assert "best 99.45% at epoch 2" in text and "held from epoch 2" in text and "5,216 params" in text
    assert "12.5 s total" in text


def test_device_choice(monkeypatch):
    assert pick_device("cpu").type == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert pick_device(None).type == "cpu"  # nothing better: the CPU
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pick_device("auto").type == "cuda"  # CUDA first
    monkeypatch.undo()
    if not torch.cuda.is_available():
        with pytest.raises(DeviceUnavailable, match="not available"):
            pick_device("cuda")


def test_set_seed_returns_a_seeded_generator():
    a = torch.rand(3, generator=set_seed(7))
    b = torch.rand(3, generator=set_seed(7))
    assert torch.equal(a, b)


def test_missing_data_is_reported_not_silently_used(tmp_path, tiny_config):
    with pytest.raises(MnistUnavailable, match="prepare-data"):
        fit(tiny_config, progress=False, log=lambda *_: None, data_root=tmp_path)


@pytest.mark.parametrize("text", ["{not json", "[]", '{"seed": 1}'])
def test_a_file_that_is_not_a_history_is_named_in_one_line(tmp_path, text):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(ValueError, match="bad.json: not a readable History"):
        load_history(path)


def test_lr_column_under_step_lr_drops_tenfold_after_each_step_size(mnist_root, tiny_config):
    history = fit(replace(tiny_config, epochs=8, scheduler="step", step_size=3, train_subset=128),
                  progress=False, log=lambda *_: None)
    assert history.column("lr") == pytest.approx([0.05] * 3 + [0.005] * 3 + [0.0005] * 2)


def test_one_cycle_follows_the_config_peak_warm_up_and_factors(mnist_root, tiny_config):
    """Our part of one-cycle: the config's peak, warm-up and factors reach torch's OneCycleLR (whose curve is torch's
    to test), and the History records the LR each epoch starts with."""
    config = replace(tiny_config, epochs=6, scheduler="onecycle", lr=0.2, pct_start=0.3, train_subset=256)
    _, scheduler, per_batch = make_optimizer(torch.nn.Linear(1, 1), config, steps_per_epoch=10)
    assert per_batch and scheduler.total_steps == 60
    assert scheduler._schedule_phases[0]["end_step"] == pytest.approx(0.3 * 60 - 1)
    history = fit(config, progress=False, log=lambda *_: None)
    lr = history.column("lr")  # the LR at the start of each epoch: up during the warm-up, then down
    top = lr.index(max(lr))
    assert lr[0] == pytest.approx(0.02) and 0 < top < len(lr) - 1
    assert lr[:top + 1] == sorted(lr[:top + 1]) and lr[top:] == sorted(lr[top:], reverse=True)


def test_results_path_that_cannot_be_written_fails_before_training(mnist_root, tiny_config, tmp_path, monkeypatch):
    from mnist_drill.errors import ResultsUnwritable

    blocker = tmp_path / "file"
    blocker.write_text("")
    started = []
    monkeypatch.setattr("mnist_drill.train.make_loaders", lambda *a, **k: started.append(1))
    with pytest.raises(ResultsUnwritable, match="cannot write results"):
        train(tiny_config, blocker / "run.json", progress=False, log=lambda *_: None)
    assert not started


def test_epoch_points_set_each_epochs_lr_on_its_line():
    config = variant(5, "3.8k-peer")
    optimizer, scheduler, per_batch = make_optimizer(torch.nn.Linear(1, 1), config, steps_per_epoch=10)
    lrs = []
    for _ in range(15):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert not per_batch and lrs[0] == 0.05 and lrs[2] == 0.1 and lrs[8] == 0.01 and lrs[12] == 0.0025
    assert lrs[5] == pytest.approx(0.055) and lrs[14] == pytest.approx(0.0025 / 3)
    with pytest.raises(ValueError, match="epoch-points' needs epoch_lrs"):
        replace(config, epoch_lrs=())


def test_compiled_falls_back_to_eager_with_one_line(monkeypatch):
    from mnist_drill.devices import Compiled
    from mnist_drill.models import DrillNet

    def broken_compile(model, **_):
        def compiled(x):
            raise RuntimeError("Compiler: cc not found\nlong traceback follows")
        return compiled

    monkeypatch.setattr(torch, "compile", broken_compile)
    torch.manual_seed(0)
    model = DrillNet("C4 G").eval()
    lines = []
    forward = Compiled(model, torch.device("cpu"), log=lines.append)
    x = torch.randn(3, 1, 28, 28)
    assert torch.equal(forward(x), model(x)) and torch.equal(forward(x), model(x))
    assert lines == ["torch.compile failed (RuntimeError: Compiler: cc not found); training eagerly instead"]


def test_fit_through_a_compiled_forward_records_it(mnist_root, tiny_config, monkeypatch):
    # torch.compile stood in by the model itself: the plumbing, not inductor (seconds of compiling per test)
    monkeypatch.setattr(torch, "compile", lambda model, **_: model)
    compiled = fit(tiny_config, progress=False, log=lambda *_: None, compile=True)
    eager = fit(tiny_config, progress=False, log=lambda *_: None)
    assert compiled.compiled and not eager.compiled
    assert _numbers(compiled) == _numbers(eager)


def test_draws_reach_another_device_as_drawn():
    from mnist_drill.data import _to_device

    batches = [(torch.arange(3.0), None, torch.tensor([True, False, True])),
               (torch.arange(2.0), None, torch.ones(2) > 0)]
    moved = _to_device(batches, torch.device("cpu"))
    assert [m[1] for m in moved] == [None, None]
    assert all(torch.equal(a, b) for m, batch in zip(moved, batches, strict=True)
               for a, b in zip(m, batch, strict=True) if a is not None)
