"""The two input pipelines behind one interface: `make_loaders(config, device) -> Loaders`.

- "fast": each split is one normalised tensor on the training device; batches are cut from a
  seeded permutation and rotated all at once (augment.rotate). No workers, no PIL, no copies.
- "torchvision": the seed's classic Dataset + DataLoader with transforms.RandomRotation, kept for
  reference and for speed comparisons.
Both normalise with the training set's own mean and std, and both honour the validation split.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

import torch

from . import augment
from .data import MnistTensors, load_split, mean_std
from .paths import DATA_DIR

VAL_SIZE = 10_000  # the validation split holds out the last 10k training images
# evaluation batches: on a 2-core CPU the drill's models read 1,000 images about 2.4 times faster in batches of 250
# than in one batch of 1,000 (whose activations overflow the caches); the counts are the same
EVAL_BATCH = 250
DRAW_BATCHES = 4  # the first epoch's first batches whose draws TensorLoader.draws digests


@dataclass
class Loaders:
    train: object  # iterable of (X, y) batches on the device, with len() = batches per epoch
    eval: object  # the evaluation set, never augmented
    eval_name: str  # "Test" or "Validation", for the log lines
    mean: float
    std: float


def split_indices(split: str, num_train: int = 60_000, train_subset=None, eval_subset=None):
    """Indices (train_idx, eval_idx, eval_from_train_file).

    "test": train on every training image, evaluate on the test file.
    "val": train on the first 50k training images, evaluate on the last 10k (disjoint by construction).
    """
    if split == "val":
        train_idx = torch.arange(0, num_train - VAL_SIZE)
        eval_idx = torch.arange(num_train - VAL_SIZE, num_train)
        from_train = True
    elif split == "test":
        train_idx, eval_idx, from_train = torch.arange(num_train), None, False
    else:
        raise ValueError(f"unknown split {split!r}; use 'test' or 'val'")
    if train_subset is not None:
        train_idx = train_idx[:train_subset]
    if eval_subset is not None and eval_idx is not None:
        eval_idx = eval_idx[:eval_subset]
    return train_idx, eval_idx, from_train


class TensorLoader:
    """Batches of a dataset held as tensors on the device, reshuffled and re-rotated every epoch."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, batch_size: int, mean: float,
                 std: float, *, shuffle: bool = False, rotation_deg: float = 0.0, shift: float = 0.0,
                 scale: float = 0.0, augment_p: float = 1.0, brightness: float = 0.0, contrast: float = 0.0,
                 cutout: int = 0, crop_pad: int = 0, generator: torch.Generator | None = None):
        self.augmented = bool(rotation_deg or shift or scale or brightness or contrast or cutout or crop_pad)
        if (shuffle or self.augmented) and generator is None:
            raise ValueError("a shuffled or augmented TensorLoader needs a seeded torch.Generator")
        self.images = images  # (N, 1, 28, 28) floats in [0, 1]; background is exactly 0
        self.labels = labels
        self.batch_size = batch_size
        self.mean, self.std = mean, std
        self.shuffle = shuffle
        self.rotation_deg, self.shift, self.scale = rotation_deg, shift, scale
        self.augment_p, self.brightness, self.contrast, self.cutout = augment_p, brightness, contrast, cutout
        self.crop_pad = crop_pad
        self.generator = generator
        self.normalise_per_batch = bool(shuffle or self.augmented)
        self._draws = hashlib.sha256()
        self._draws_seen = 0
        if not self.normalise_per_batch:  # nothing changes between epochs: normalise once
            self.images = (images - mean) / std

    def __len__(self) -> int:
        return math.ceil(len(self.labels) / self.batch_size)

    @property
    def draws(self) -> dict:
        """{"batches", "sha256"}: a digest of the shuffle order and augmentation parameters of the first epoch's first
        DRAW_BATCHES batches. They come from the seeded CPU generator, so they are bitwise the same on every machine:
        a change in seeding, data order or augmentation draws changes the digest anywhere."""
        return {"batches": self._draws_seen, "sha256": self._draws.hexdigest()[:16]}

    def _record(self, *tensors) -> None:
        if self._draws_seen < DRAW_BATCHES:
            for t in tensors:
                self._draws.update(t.detach().cpu().contiguous().numpy().tobytes())
            self._draws_seen += 1

    def __iter__(self):
        device = self.images.device
        n = len(self.labels)
        order = torch.randperm(n, generator=self.generator) if self.shuffle else None
        starts = range(0, n, self.batch_size)
        # the epoch's draws first, batch by batch in the order the generator always gave them, all on the CPU; then to
        # the device in one copy per kind: a copy per batch would make a GPU wait for its queue on every batch
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
            if order is not None:
                self._record(idx, *params)
            if self.normalise_per_batch:
                x = (x - self.mean) / self.std
            yield x, y

    def _draw(self, n: int) -> tuple:
        """One batch's augmentation parameters, drawn on the CPU in a fixed order: (angles, shifts, scales, keep,
        brightness, contrast, cutout centres, pad-and-crop shifts), None for what this loader does not draw."""
        g = self.generator
        angles = augment.random_angles(n, self.rotation_deg, g)
        shifts = augment.random_shifts(n, self.shift, self.images.shape[-1], g) if self.shift else None
        scales = augment.random_scales(n, self.scale, g) if self.scale else None
        keep = torch.rand(n, generator=g) < self.augment_p if self.augment_p < 1 else None
        b = c = None
        if self.brightness or self.contrast:
            b, c = augment.random_brightness_contrast(n, self.brightness, self.contrast, self.augment_p, g)
        centres = torch.randint(0, self.images.shape[-1], (n, 2), generator=g) if self.cutout else None
        crops = torch.randint(-self.crop_pad, self.crop_pad + 1, (n, 2), generator=g).float() if self.crop_pad else None
        return angles, shifts, scales, keep, b, c, centres, crops

    def _augment(self, x: torch.Tensor, draws: tuple) -> tuple[torch.Tensor, tuple]:
        """The batch augmented by its draws, and the draws as drawn (in the order they were drawn)."""
        angles, shifts, scales, keep, b, c, centres, crops = draws
        params = [t for t in (angles, shifts, scales) if t is not None]
        if crops is not None:  # pad-and-crop first, as torchvision's Pad + RandomCrop before RandomAffine: a move by
            x = augment.affine(x, torch.zeros_like(angles), crops)  # whole pixels, which bilinear sampling makes exact
            params.append(crops)
        if keep is not None:  # each image keeps its draws with probability augment_p, else stays as it is
            angles = torch.where(keep, angles, 0.0)
            shifts = None if shifts is None else torch.where(keep[:, None], shifts, 0.0)
            scales = None if scales is None else torch.where(keep, scales, 1.0)
            params.append(keep)
        if shifts is None and scales is None:
            x = augment.rotate(x, angles)  # rotation alone draws exactly what it always drew
        else:
            x = augment.affine(x, angles, shifts, scales)
        if b is not None:
            x = augment.brightness_contrast(x, b, c)
            params += [b, c]
        if centres is not None:
            x = augment.cutout(x, centres, self.cutout)
            params.append(centres)
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


def make_loaders(config, device, generator: torch.Generator, root: Path = DATA_DIR) -> Loaders:
    """Train and evaluation loaders for `config.pipeline`, `config.split` and the subsets."""
    train_images, train_labels = load_split(root, train=True)
    train_idx, eval_idx, eval_from_train = split_indices(
        config.split, len(train_labels), config.train_subset, config.eval_subset)
    mean, std = mean_std(train_images[train_idx])  # statistics of what is trained on, never the eval set
    if eval_from_train:
        eval_images, eval_labels, eval_name = train_images[eval_idx], train_labels[eval_idx], "Validation"
    else:
        eval_images, eval_labels = load_split(root, train=False)
        if config.eval_subset is not None:
            eval_images, eval_labels = eval_images[:config.eval_subset], eval_labels[:config.eval_subset]
        eval_name = "Test"
    def to_device(images, labels):
        return images.unsqueeze(1).to(device, torch.float32) / 255.0, labels.to(device)

    if config.pipeline == "fast":
        train = TensorLoader(*to_device(train_images[train_idx], train_labels[train_idx]),
                             config.batch_size, mean, std, shuffle=True,
                             rotation_deg=config.rotation_deg, shift=config.shift, scale=config.scale,
                             augment_p=config.augment_p, brightness=config.brightness, contrast=config.contrast,
                             cutout=config.cutout, crop_pad=config.crop_pad, generator=generator)
        evaluation = TensorLoader(*to_device(eval_images, eval_labels), EVAL_BATCH, mean, std)
    else:
        if config.augment_p < 1 or config.brightness or config.contrast or config.cutout or config.crop_pad:
            raise ValueError("augment_p, brightness, contrast, cutout and crop_pad are drawn by the fast pipeline "
                             "only; use --pipeline fast")
        train, evaluation = _torchvision_loaders(config, device, generator, mean, std,
                                                 MnistTensors(train_images[train_idx], train_labels[train_idx]),
                                                 MnistTensors(eval_images, eval_labels))
    return Loaders(train, evaluation, eval_name, mean, std)


class _DeviceLoader:
    """Moves a DataLoader's batches to the device; keeps len()."""

    def __init__(self, loader, device):
        self.loader, self.device = loader, torch.device(device)

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self):
        non_blocking = self.device.type == "cuda"
        for x, y in self.loader:
            yield x.to(self.device, non_blocking=non_blocking), y.to(self.device, non_blocking=non_blocking)


def _torchvision_loaders(config, device, generator, mean, std, train_set, eval_set):
    """The classic pipeline over the verified tensors (MnistTensors yields what datasets.MNIST yields)."""
    from torch.utils.data import DataLoader
    from torchvision import transforms

    normalize = [transforms.ToTensor(), transforms.Normalize((mean,), (std,))]
    if config.shift or config.scale:
        augmentation = [transforms.RandomAffine(
            config.rotation_deg, translate=(config.shift, config.shift) if config.shift else None,
            scale=(1 - config.scale, 1 + config.scale) if config.scale else None, fill=0)]
    elif config.rotation_deg:
        augmentation = [transforms.RandomRotation((-config.rotation_deg, config.rotation_deg), fill=(0,))]
    else:
        augmentation = []
    train_set.transform = transforms.Compose(augmentation + normalize)
    eval_set.transform = transforms.Compose(normalize)
    cuda = torch.device(device).type == "cuda"
    kwargs = dict(num_workers=config.num_workers, pin_memory=cuda,
                  persistent_workers=config.num_workers > 0)
    train = DataLoader(train_set, batch_size=config.batch_size, shuffle=True, generator=generator, **kwargs)
    evaluation = DataLoader(eval_set, batch_size=EVAL_BATCH, shuffle=False, **kwargs)
    return _DeviceLoader(train, device), _DeviceLoader(evaluation, device)
