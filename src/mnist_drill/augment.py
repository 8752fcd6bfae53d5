"""Batched augmentation on tensors: every image in a batch rotated by its own angle in one call.

`rotate` follows torchvision's convention (positive angle = counter-clockwise, about the image
centre, `align_corners=False`), so it matches `torchvision.transforms.functional.rotate` image by
image; tests/test_augment.py states the tolerance.
"""

import math

import torch
import torch.nn.functional as F


def rotate(images: torch.Tensor, angles_deg: torch.Tensor, mode: str = "bilinear") -> torch.Tensor:
    """Rotate each image of an (N, C, H, W) batch by its angle; uncovered pixels become 0 (background)."""
    if images.ndim != 4:
        raise ValueError(f"rotate expects an (N, C, H, W) batch, got shape {tuple(images.shape)}")
    if angles_deg.shape != (images.shape[0],):
        raise ValueError(f"need one angle per image: {images.shape[0]} images, angles {tuple(angles_deg.shape)}")
    radians = angles_deg.to(images.dtype) * (math.pi / 180.0)
    cos, sin = torch.cos(radians), torch.sin(radians)
    zero = torch.zeros_like(cos)
    # affine_grid maps each output location to where it samples the input: the inverse rotation.
    # In its (x right, y down) coordinates a counter-clockwise turn on screen samples at R(-a).
    theta = torch.stack([torch.stack([cos, -sin, zero], 1), torch.stack([sin, cos, zero], 1)], 1)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode=mode, padding_mode="zeros", align_corners=False)


def random_angles(n: int, max_deg: float, generator: torch.Generator, device="cpu") -> torch.Tensor:
    """n angles drawn uniformly from [-max_deg, +max_deg] (drawn on the CPU so seeds agree across devices)."""
    angles = (torch.rand(n, generator=generator) * 2.0 - 1.0) * max_deg
    return angles.to(device)
