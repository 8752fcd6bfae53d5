"""MNIST as the training loop uses it: each split read from the four IDX files into tensors, normalised with the
training images' own mean and std, and cut into batches on the training device, augmented a batch at a time.

No Dataset, no DataLoader, no workers: the 60,000 images are 47 MB as bytes (188 MB as floats), so each split is
one tensor on the device; batches are cut from a seeded permutation and every image gets its own rotation, shift and
zoom in one call (augment.affine). The files are fetched and checked against their published checksums by the lab
(`python -m mnist_drill prepare-data`, lab/fetch.py); this module only reads them.
"""

from __future__ import annotations

import hashlib
import math
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from . import augment
from .errors import MnistUnavailable
from .paths import DATA_DIR

VAL_SIZE = 10_000  # the validation split holds out the last 10k training images
EVAL_BATCH = 250  # on a 2-core CPU, 1,000 images read about 2.4x faster in batches of 250 than in one batch
DRAW_BATCHES = 4  # the first epoch's first batches whose draws TensorLoader.draws digests
UINT8_MAGIC = b"\x00\x00\x08"  # two zero bytes, then the type code 0x08 (unsigned byte); the 4th byte is ndim


def raw_dir(root: str | os.PathLike = DATA_DIR) -> Path:
    """Where the four IDX files live: <root>/MNIST/raw, as torchvision keeps them."""
    return Path(root) / "MNIST" / "raw"


def read_idx(path: str | os.PathLike, ndim: int) -> torch.Tensor:
    """An uint8 IDX file with `ndim` dims as a tensor; MnistUnavailable (one line) when the file says otherwise."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise MnistUnavailable(f"{path}: cannot read ({e.strerror or e}); run `python -m mnist_drill prepare-data`"
                               ) from None
    if data[:3] != UINT8_MAGIC or len(data) < 4 or data[3] != ndim or len(data) < 4 + 4 * ndim:
        raise MnistUnavailable(f"{path}: not an uint8 IDX file with {ndim} dims; run `python -m mnist_drill "
                               "prepare-data` to fetch it again")
    dims = struct.unpack(f">{ndim}I", data[4:4 + 4 * ndim])
    body = np.frombuffer(data, np.uint8, offset=4 + 4 * ndim)
    if body.size != math.prod(dims):
        raise MnistUnavailable(f"{path}: {body.size} data bytes, dims {dims} need {math.prod(dims)}; run "
                               "`python -m mnist_drill prepare-data` to fetch it again")
    return torch.from_numpy(body.copy()).view(*dims)


def load_split(root: str | os.PathLike = DATA_DIR, train: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """(images uint8 N x 28 x 28, labels int64 N) of the training or test split."""
    prefix = "train" if train else "t10k"
    images = read_idx(raw_dir(root) / f"{prefix}-images-idx3-ubyte", 3)
    labels = read_idx(raw_dir(root) / f"{prefix}-labels-idx1-ubyte", 1).long()
    if len(images) != len(labels):
        raise MnistUnavailable(f"{raw_dir(root)}: {len(images)} {prefix} images but {len(labels)} labels")
    return images, labels


def mean_std(images_uint8: torch.Tensor) -> tuple[float, float]:
    """Mean and (population) std of pixels/255, about 0.1307 and 0.3081 on the training set (exact: a histogram)."""
    if images_uint8.dtype != torch.uint8:
        raise ValueError(f"expected uint8 images, got {images_uint8.dtype}")
    counts = torch.bincount(images_uint8.flatten(), minlength=256).double()
    values = torch.arange(256, dtype=torch.float64) / 255
    mean = (counts * values).sum() / counts.sum()
    var = (counts * (values - mean) ** 2).sum() / counts.sum()
    return mean.item(), var.sqrt().item()


def split_indices(split: str, num_train: int = 60_000, train_subset=None, eval_subset=None):
    """(train_idx, eval_idx, eval_from_train): "test" trains on every training image and reads the test file; "val"
    trains on the first 50k training images and reads the last 10k (disjoint by construction)."""
    if split == "val":
        train_idx, eval_idx = torch.arange(num_train - VAL_SIZE), torch.arange(num_train - VAL_SIZE, num_train)
    elif split == "test":
        train_idx, eval_idx = torch.arange(num_train), None
    else:
        raise ValueError(f"unknown split {split!r}; use 'test' or 'val'")
    if train_subset is not None:
        train_idx = train_idx[:train_subset]
    if eval_subset is not None and eval_idx is not None:
        eval_idx = eval_idx[:eval_subset]
    return train_idx, eval_idx, split == "val"


class TensorLoader:
    """Batches of images held as one tensor on the device; shuffled and augmented afresh every epoch when asked."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, batch_size: int, mean: float, std: float, *,
                 shuffle: bool = False, rotation_deg: float = 0.0, shift: float = 0.0, scale: float = 0.0,
                 augment_p: float = 1.0, brightness: float = 0.0, contrast: float = 0.0, crop_pad: int = 0,
                 generator: torch.Generator | None = None):
        self.augmented = bool(rotation_deg or shift or scale or brightness or contrast or crop_pad)
        if (shuffle or self.augmented) and generator is None:
            raise ValueError("a shuffled or augmented TensorLoader needs a seeded torch.Generator")
        self.images, self.labels = images, labels  # (N, 1, 28, 28) floats in [0, 1]; background is exactly 0
        self.batch_size, self.mean, self.std, self.shuffle = batch_size, mean, std, shuffle
        self.rotation_deg, self.shift, self.scale, self.crop_pad = rotation_deg, shift, scale, crop_pad
        self.augment_p, self.brightness, self.contrast = augment_p, brightness, contrast
        self.generator = generator
        self.normalise_per_batch = bool(shuffle or self.augmented)
        self._draws, self._draws_seen = hashlib.sha256(), 0
        if not self.normalise_per_batch:  # nothing changes between epochs: normalise once
            self.images = (images - mean) / std

    def __len__(self) -> int:
        return math.ceil(len(self.labels) / self.batch_size)

    @property
    def draws(self) -> dict:
        """A digest of the shuffle order and augmentation draws of the first epoch's first DRAW_BATCHES batches. They
        come from the seeded CPU generator, so they are bitwise the same on every machine: a change in seeding, data
        order or augmentation changes the digest anywhere."""
        return {"batches": self._draws_seen, "sha256": self._draws.hexdigest()[:16]}

    def __iter__(self):
        device, n = self.images.device, len(self.labels)
        order = torch.randperm(n, generator=self.generator) if self.shuffle else None
        starts = range(0, n, self.batch_size)
        # the epoch's draws first, batch by batch in the order the generator always gave them, all on the CPU; then
        # to the device in one copy per kind: a copy per batch would make a GPU wait for its queue on every batch
        draws = [self._draw(min(self.batch_size, n - start)) for start in starts] if self.augmented else None
        if device.type != "cpu":
            order = None if order is None else order.to(device)
            draws = None if draws is None else _to_device(draws, device)
        for number, start in enumerate(starts):
            idx = slice(start, start + self.batch_size) if order is None else order[start:start + self.batch_size]
            x, y = self.images[idx], self.labels[idx]
            params = ()
            if self.augmented:  # before normalising, so that the fill is background
                x, params = self._augment(x, draws[number])
            if order is not None and self._draws_seen < DRAW_BATCHES:
                for t in (idx, *params):
                    self._draws.update(t.detach().cpu().contiguous().numpy().tobytes())
                self._draws_seen += 1
            if self.normalise_per_batch:
                x = (x - self.mean) / self.std
            yield x, y

    def _draw(self, n: int) -> tuple:
        """One batch's augmentation parameters, drawn on the CPU in a fixed order: (angles, shifts, scales, keep,
        brightness, contrast, pad-and-crop shifts), None for what this loader does not draw."""
        g = self.generator
        angles = augment.random_angles(n, self.rotation_deg, g)
        shifts = augment.random_shifts(n, self.shift, self.images.shape[-1], g) if self.shift else None
        scales = augment.random_scales(n, self.scale, g) if self.scale else None
        keep = torch.rand(n, generator=g) < self.augment_p if self.augment_p < 1 else None
        b = c = None
        if self.brightness or self.contrast:
            b, c = augment.random_brightness_contrast(n, self.brightness, self.contrast, self.augment_p, g)
        crops = torch.randint(-self.crop_pad, self.crop_pad + 1, (n, 2), generator=g).float() if self.crop_pad else None
        return angles, shifts, scales, keep, b, c, crops

    def _augment(self, x: torch.Tensor, draws: tuple) -> tuple[torch.Tensor, tuple]:
        """The batch augmented by its draws, and the draws as drawn (in the order they were drawn)."""
        angles, shifts, scales, keep, b, c, crops = draws
        params = [t for t in (angles, shifts, scales) if t is not None]
        if crops is not None:  # pad-and-crop first, as torchvision's Pad + RandomCrop before RandomAffine: a move by
            x = augment.affine(x, torch.zeros_like(angles), crops)  # whole pixels, which bilinear sampling makes exact
            params.append(crops)
        if keep is not None:  # each image keeps its draws with probability augment_p, else stays as it is
            angles = torch.where(keep, angles, 0.0)
            shifts = None if shifts is None else torch.where(keep[:, None], shifts, 0.0)
            scales = None if scales is None else torch.where(keep, scales, 1.0)
            params.append(keep)
        x = augment.affine(x, angles, shifts, scales)
        if b is not None:
            x = augment.brightness_contrast(x, b, c)
            params += [b, c]
        return x, tuple(params)


def _to_device(batches: list[tuple], device: torch.device) -> list[tuple]:
    """Per-batch tuples of CPU tensors (or None) on `device`: each kind joined, copied once (pinned), split again."""
    kinds = []
    for kind in zip(*batches, strict=True):
        if kind[0] is None:
            kinds.append(kind)
            continue
        joined = torch.cat(kind)
        if device.type == "cuda":
            joined = joined.pin_memory()
        kinds.append(joined.to(device, non_blocking=True).split([len(t) for t in kind]))
    return list(zip(*kinds, strict=True))


@dataclass
class Loaders:
    train: TensorLoader  # shuffled and augmented batches on the device
    eval: TensorLoader  # the evaluation set, never augmented
    eval_name: str  # "Test" or "Validation", for the log lines
    mean: float
    std: float


def split_arrays(config, root: Path = DATA_DIR) -> tuple:
    """(train images, train labels, eval images, eval labels, eval name, mean, std) of the config's split and subsets,
    uint8 images; mean and std are the training images' own, never the eval set's."""
    images, labels = load_split(root, train=True)
    train_idx, eval_idx, eval_from_train = split_indices(config.split, len(labels), config.train_subset,
                                                         config.eval_subset)
    mean, std = mean_std(images[train_idx])
    if eval_from_train:
        eval_images, eval_labels, eval_name = images[eval_idx], labels[eval_idx], "Validation"
    else:
        eval_images, eval_labels = (t[:config.eval_subset] for t in load_split(root, train=False))
        eval_name = "Test"
    return images[train_idx], labels[train_idx], eval_images, eval_labels, eval_name, mean, std


def make_loaders(config, device, generator: torch.Generator, root: Path = DATA_DIR) -> Loaders:
    """Train and evaluation loaders for the config's split, subsets, batch size and augmentation."""
    train_images, train_labels, eval_images, eval_labels, eval_name, mean, std = split_arrays(config, root)

    def to_device(images, labels):
        return images.unsqueeze(1).to(device, torch.float32) / 255.0, labels.to(device)

    train = TensorLoader(*to_device(train_images, train_labels), config.batch_size, mean, std,
                         shuffle=True, rotation_deg=config.rotation_deg, shift=config.shift, scale=config.scale,
                         augment_p=config.augment_p, brightness=config.brightness, contrast=config.contrast,
                         crop_pad=config.crop_pad, generator=generator)
    return Loaders(train, TensorLoader(*to_device(eval_images, eval_labels), EVAL_BATCH, mean, std), eval_name,
                   mean, std)
