"""Shared fixtures: the real MNIST (fetched once if missing) and a tiny config that trains in seconds."""

from dataclasses import replace

import pytest

from mnist_drill.config import STEP_3
from mnist_drill.lab.fetch import ensure_mnist


@pytest.fixture(scope="session")
def mnist_root():
    raw = ensure_mnist()  # quick when verified; otherwise runs the real fallback chain
    return raw.parent.parent


@pytest.fixture
def tiny_config():
    """Step 3 on 512 training and 256 test images, 2 epochs, no saving: seconds on a CPU."""
    return replace(STEP_3, epochs=2, train_subset=512, eval_subset=256, batch_size=64)
