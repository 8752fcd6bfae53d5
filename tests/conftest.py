"""Shared fixtures: the real MNIST (fetched once if missing), a tiny fake MNIST in the real file layout, and a tiny
config that trains in seconds."""

import hashlib
from dataclasses import replace

import numpy as np
import pytest

from mnist_drill.config import STEP_3
from mnist_drill.data import raw_dir
from mnist_drill.lab.fetch import RAW_FILES, ensure_mnist


@pytest.fixture(scope="session")
def mnist_root():
    raw = ensure_mnist()  # quick when verified; otherwise runs the real fallback chain
    return raw.parent.parent


def _idx_bytes(array: np.ndarray) -> bytes:
    """An uint8 array in IDX format: 0x0000 08 <ndim>, each dim as big-endian uint32, then the bytes."""
    return np.array([0x0800 | array.ndim, *array.shape], ">u4").tobytes() + array.astype(np.uint8).tobytes()


@pytest.fixture
def fake_mnist(tmp_path):
    """(root, spec, arrays): 6 training and 4 test images (labels 1..9) in raw_dir(root), the {name: (size, md5)}
    spec they pass (ensure_mnist(root, spec=spec)), and {"train"|"t10k": (images uint8 N x 28 x 28, labels uint8)}."""
    rng = np.random.default_rng(3)
    raw, spec, arrays = raw_dir(tmp_path), {}, {}
    raw.mkdir(parents=True)
    for prefix, n in (("train", 6), ("t10k", 4)):
        arrays[prefix] = (rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(1, 10, n, dtype=np.uint8))
        for kind, array in zip(("images-idx3", "labels-idx1"), arrays[prefix], strict=True):
            (raw / f"{prefix}-{kind}-ubyte").write_bytes(data := _idx_bytes(array))
            spec[f"{prefix}-{kind}-ubyte"] = (len(data), hashlib.md5(data).hexdigest())
    assert spec.keys() == RAW_FILES.keys()
    return tmp_path, spec, arrays


@pytest.fixture
def tiny_config():
    """Step 3 on 512 training and 256 test images, 2 epochs, no saving: seconds on a CPU."""
    return replace(STEP_3, epochs=2, train_subset=512, eval_subset=256, batch_size=64)
