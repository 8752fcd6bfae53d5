"""Batched augmentation on tensors: every image in a batch gets its own random rotation (and, when asked,
its own shift and scale) in one `affine_grid` + `grid_sample` call.

torchvision's `RandomRotation` / `RandomAffine` draw one set of parameters per call, so a batch would take
one call per image; these functions do the whole batch at once. They follow torchvision's convention
(positive angle = counter-clockwise about the image centre, translation in whole pixels, `align_corners=False`),
so `affine` matches `torchvision.transforms.functional.rotate` image by image, and torchvision's `affine` with the
angle negated (its angle turns clockwise); tests/test_augment.py states the tolerance.
"""

import math

import torch
import torch.nn.functional as F


def affine(images: torch.Tensor, angles_deg: torch.Tensor, translate_px: torch.Tensor | None = None,
           scales: torch.Tensor | None = None, mode: str = "bilinear") -> torch.Tensor:
    """Rotate, scale and then shift each image of an (N, C, H, W) batch by its own parameters.

    angles_deg: (N,); translate_px: (N, 2) as (dx right, dy down) in pixels, or None; scales: (N,) or None.
    Uncovered pixels become 0 (background).
    """
    if images.ndim != 4:
        raise ValueError(f"expected an (N, C, H, W) batch, got shape {tuple(images.shape)}")
    n, _, height, width = images.shape
    if angles_deg.shape != (n,):
        raise ValueError(f"need one angle per image: {n} images, angles {tuple(angles_deg.shape)}")
    radians = angles_deg.to(images.dtype) * (math.pi / 180.0)
    cos, sin = torch.cos(radians), torch.sin(radians)
    if scales is not None:
        if scales.shape != (n,):
            raise ValueError(f"need one scale per image: {n} images, scales {tuple(scales.shape)}")
        cos, sin = cos / scales, sin / scales
    # affine_grid maps each output location to where it samples the input: the inverse transform.
    # In its (x right, y down) coordinates a counter-clockwise turn on screen samples at R(-a) / s.
    if translate_px is None:
        tx = ty = torch.zeros_like(cos)
    else:
        if translate_px.shape != (n, 2):
            raise ValueError(f"need one (dx, dy) per image: {n} images, translations {tuple(translate_px.shape)}")
        # the shift in affine_grid's units (half the image is 1), taken back through the inverse rotation
        dx = translate_px[:, 0].to(images.dtype) / (width / 2)
        dy = translate_px[:, 1].to(images.dtype) / (height / 2)
        tx, ty = -(cos * dx - sin * dy), -(sin * dx + cos * dy)
    theta = torch.stack([torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode=mode, padding_mode="zeros", align_corners=False)


def random_angles(n: int, max_deg: float, generator: torch.Generator) -> torch.Tensor:
    """n angles drawn uniformly from [-max_deg, +max_deg] (drawn on the CPU so seeds agree across devices)."""
    return (torch.rand(n, generator=generator) * 2.0 - 1.0) * max_deg


def random_shifts(n: int, max_fraction: float, size: int, generator: torch.Generator) -> torch.Tensor:
    """(n, 2) whole-pixel shifts, each drawn as RandomAffine does: round(uniform(-f * size, f * size))."""
    limit = max_fraction * size
    return torch.round((torch.rand(n, 2, generator=generator) * 2.0 - 1.0) * limit)


def random_scales(n: int, max_change: float, generator: torch.Generator) -> torch.Tensor:
    """n scales drawn uniformly from [1 - max_change, 1 + max_change]."""
    return (1.0 + (torch.rand(n, generator=generator) * 2.0 - 1.0) * max_change)


def random_brightness_contrast(n: int, brightness: float, contrast: float, p: float,
                               generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """(b, c), each (n,): b uniform in [-brightness, +brightness], c in [-contrast, +contrast], both 0 for the images
    that a draw with probability 1 - p leaves unchanged (Albumentations' RandomBrightnessContrast, drawn per image)."""
    b = (torch.rand(n, generator=generator) * 2.0 - 1.0) * brightness
    c = (torch.rand(n, generator=generator) * 2.0 - 1.0) * contrast
    on = (torch.rand(n, generator=generator) < p).to(b.dtype)
    return b * on, c * on


def brightness_contrast(images: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """(1 + c) x + b per image of an (N, C, H, W) batch in [0, 1], clipped to [0, 1] (brightness by the maximum, 1)."""
    return ((1.0 + c).view(-1, 1, 1, 1) * images + b.view(-1, 1, 1, 1)).clamp(0.0, 1.0)


def shift(images: torch.Tensor, dx: int, dy: int, fill: float = 0.0) -> torch.Tensor:
    """Move every image of an (N, C, H, W) batch by whole pixels, dx right and dy down; uncovered pixels get `fill`
    (the background: 0 before normalising, -mean / std after)."""
    if images.ndim != 4:
        raise ValueError(f"expected an (N, C, H, W) batch, got shape {tuple(images.shape)}")
    height, width = images.shape[-2:]
    if abs(dx) >= width or abs(dy) >= height:
        raise ValueError(f"a shift of ({dx}, {dy}) pixels moves a {height}x{width} image out of view")
    pad = max(abs(dx), abs(dy))
    padded = F.pad(images, (pad, pad, pad, pad), value=fill)
    return padded[..., pad - dy:pad - dy + height, pad - dx:pad - dx + width]
