"""MNIST as the loaders use it: each split as tensors read straight from the four verified IDX files,
a Dataset over them for the classic torchvision pipeline, and the normalisation constants.

Never through `torchvision.datasets.MNIST`: it prefers a cached `MNIST/processed/*.pt` to the raw
files when one exists, and nothing checks that cache.
"""

import os

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from .errors import MnistUnavailable
from .fetch import RAW_FILES, ensure_mnist
from .idx import IdxError, read_images, read_labels
from .paths import DATA_DIR


def load_split(
    root: str | os.PathLike = DATA_DIR, train: bool = True, *, spec: dict[str, tuple[int, str]] = RAW_FILES
) -> tuple[torch.Tensor, torch.Tensor]:
    """(images uint8 N×28×28, labels int64 N) of the training or test split, from verified files.

    `spec` is the files' sizes and md5s (tests pass one for small fakes).
    """
    raw = ensure_mnist(root, spec=spec)
    prefix = "train" if train else "t10k"
    try:  # verified just now; a file replaced since then still gets one line, not a traceback
        images = read_images(raw / f"{prefix}-images-idx3-ubyte")
        labels = read_labels(raw / f"{prefix}-labels-idx1-ubyte")
    except IdxError as e:
        raise MnistUnavailable(str(e)) from e
    if len(images) != len(labels):
        raise MnistUnavailable(f"{raw}: {len(images)} {prefix} images but {len(labels)} labels")
    return images, labels


class MnistTensors(Dataset):
    """(image, label) pairs exactly as `torchvision.datasets.MNIST(...)[i]` gives them: a PIL image of
    mode "L" passed through `transform`, and an int label; but from the verified tensors."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, transform=None):
        self.data, self.targets, self.transform = images, labels, transform

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int):
        # a 2-D uint8 array becomes mode "L" (torchvision passes mode="L", deprecated in Pillow 11.3)
        image = Image.fromarray(self.data[index].numpy())
        if self.transform is not None:
            image = self.transform(image)
        return image, int(self.targets[index])


def mean_std(images_uint8: torch.Tensor | np.ndarray) -> tuple[float, float]:
    """Mean and (population) std of pixels/255, e.g. about 0.1307 and 0.3081 on the training set."""
    images = torch.as_tensor(images_uint8)
    if images.dtype != torch.uint8:
        raise ValueError(f"expected uint8 images, got {images.dtype}")
    # a 256-bin histogram is exact and needs no float copy of the 47M training pixels
    counts = torch.bincount(images.flatten(), minlength=256).double()
    values = torch.arange(256, dtype=torch.float64) / 255
    n = counts.sum()
    mean = (counts * values).sum() / n
    var = (counts * (values - mean) ** 2).sum() / n
    return mean.item(), var.sqrt().item()
