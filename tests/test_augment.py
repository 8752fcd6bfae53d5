"""The batched rotation and affine match torchvision's own rotation / affine of each image by the same parameters."""

import numpy as np
import pytest
import torch
import torchvision.transforms.functional as TF
from PIL import Image
from torchvision.transforms import InterpolationMode

from mnist_drill.augment import (
    affine,
    random_angles,
    random_scales,
    random_shifts,
    shift,
)

# Tolerances: against torchvision's tensor rotate (same grid, same bilinear sampling) the difference is
# float rounding, so 1e-5 on pixels in [0, 1]. Against PIL's nearest-neighbour rotate (the classic
# pipeline) a few pixels on stroke edges may land one pixel over, so: at most 2% of pixels differ.
TENSOR_ATOL = 1e-5
PIL_MAX_DIFFERENT = 0.02


@pytest.fixture
def digits(mnist_root):
    from mnist_drill.data import load_split

    images, _ = load_split(mnist_root, train=False)
    return images[:8].unsqueeze(1).float() / 255.0


@pytest.mark.parametrize("angle", [-7.0, -3.5, 0.0, 2.0, 7.0, 30.0, 90.0])
def test_matches_torchvision_tensor_rotate(digits, angle):
    angles = torch.full((len(digits),), angle)
    ours = affine(digits, angles)
    theirs = torch.stack([TF.rotate(img, angle, interpolation=InterpolationMode.BILINEAR) for img in digits])
    assert torch.allclose(ours, theirs, atol=TENSOR_ATOL)
    ours_nearest = affine(digits, angles, mode="nearest")
    theirs_nearest = torch.stack([TF.rotate(img, angle) for img in digits])
    assert torch.allclose(ours_nearest, theirs_nearest, atol=TENSOR_ATOL)


@pytest.mark.parametrize("angle", [-7.0, 5.0])
def test_close_to_pil_rotation_of_the_classic_pipeline(digits, angle):
    for img in digits[:4]:
        pil = Image.fromarray((img[0] * 255).round().to(torch.uint8).numpy())
        theirs = torch.from_numpy(np.asarray(TF.rotate(pil, angle, fill=0), dtype=np.float32) / 255.0)
        ours = affine(img[None], torch.tensor([angle]), mode="nearest")[0, 0]
        different = ((ours - theirs).abs() > 1 / 255).float().mean().item()
        assert different <= PIL_MAX_DIFFERENT


def test_each_image_gets_its_own_angle(digits):
    angles = torch.tensor([0.0, 7.0] * 4)
    out = affine(digits, angles)
    assert torch.allclose(out[0], digits[0], atol=TENSOR_ATOL)  # 0 degrees: unchanged
    assert not torch.allclose(out[1], digits[1], atol=1e-3)


def test_fill_is_background():
    ones = torch.ones(1, 1, 28, 28)
    out = affine(ones, torch.tensor([45.0]))
    assert out[0, 0, 0, 0] == 0.0  # a corner uncovered by the rotated square is background
    assert out[0, 0, 14, 14] == pytest.approx(1.0)


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="N, C, H, W"):
        affine(torch.zeros(28, 28), torch.zeros(1))
    with pytest.raises(ValueError, match="one angle per image"):
        affine(torch.zeros(3, 1, 28, 28), torch.zeros(2))


def test_random_angles_are_seeded_and_bounded():
    a = random_angles(1000, 7.0, torch.Generator().manual_seed(3))
    b = random_angles(1000, 7.0, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    assert a.abs().max() <= 7.0 and a.min() < -6.0 and a.max() > 6.0


@pytest.mark.parametrize("angle, shift, scale", [(0.0, (2, 0), 1.0), (0.0, (0, -3), 1.0), (0.0, (0, 0), 0.9),
                                                 (7.0, (-2, 1), 1.1), (-5.0, (1, 2), 0.92), (30.0, (-3, -3), 1.0)])
def test_affine_matches_torchvision_affine_image_by_image(digits, angle, shift, scale):
    n = len(digits)
    ours = affine(digits, torch.full((n,), angle), torch.tensor([shift] * n, dtype=torch.float32),
                  torch.full((n,), scale))
    # TF.affine's angle turns clockwise (TF.rotate's counter-clockwise, as ours): hence -angle
    theirs = torch.stack([TF.affine(img, angle=-angle, translate=list(shift), scale=scale, shear=[0.0, 0.0],
                                    interpolation=InterpolationMode.BILINEAR) for img in digits])
    assert torch.allclose(ours, theirs, atol=TENSOR_ATOL)


def test_affine_gives_each_image_its_own_parameters(digits):
    angles = torch.tensor([3.0, -6.0, 0.0, 7.0, 1.0, -2.0, 5.0, 0.5])
    shifts = torch.tensor([[1, 0], [0, 2], [-2, -1], [0, 0], [3, 3], [-1, 2], [2, -2], [0, 1]], dtype=torch.float32)
    scales = torch.tensor([1.0, 0.9, 1.1, 0.95, 1.05, 1.0, 0.92, 1.08])
    ours = affine(digits, angles, shifts, scales)
    for i, img in enumerate(digits):
        theirs = TF.affine(img, angle=-angles[i].item(), translate=shifts[i].int().tolist(), scale=scales[i].item(),
                           shear=[0.0, 0.0], interpolation=InterpolationMode.BILINEAR)
        assert torch.allclose(ours[i], theirs, atol=TENSOR_ATOL), f"image {i}"


def test_affine_with_a_zero_shift_and_unit_scale_is_the_rotation_alone(digits):
    angles = torch.linspace(-7, 7, len(digits))
    same = affine(digits, angles, torch.zeros(len(digits), 2), torch.ones(len(digits)))
    assert torch.allclose(same, affine(digits, angles), atol=TENSOR_ATOL)


def test_affine_refuses_parameters_of_the_wrong_shape():
    with pytest.raises(ValueError, match="one \\(dx, dy\\) per image"):
        affine(torch.zeros(3, 1, 28, 28), torch.zeros(3), torch.zeros(3))
    with pytest.raises(ValueError, match="one scale per image"):
        affine(torch.zeros(3, 1, 28, 28), torch.zeros(3), None, torch.ones(2))


def test_random_shifts_and_scales_are_whole_pixels_bounded_and_seeded():
    shifts = random_shifts(2000, 0.1, 28, torch.Generator().manual_seed(5))
    assert torch.equal(shifts, random_shifts(2000, 0.1, 28, torch.Generator().manual_seed(5)))
    assert torch.equal(shifts, shifts.round()) and shifts.abs().max() == 3  # round(uniform(-2.8, 2.8))
    scales = random_scales(2000, 0.1, torch.Generator().manual_seed(5))
    assert scales.min() >= 0.9 and scales.max() <= 1.1 and scales.min() < 0.91 and scales.max() > 1.09


@pytest.mark.parametrize("dx,dy", [(1, 0), (-1, 0), (0, 2), (0, -2), (3, -1)])
def test_shift_matches_torchvision_affine_translation_with_the_fill(digits, dx, dy):
    moved = shift(digits, dx, dy, fill=-0.5)
    for image, result in zip(digits, moved, strict=True):
        expected = TF.affine(image, angle=0.0, translate=[dx, dy], scale=1.0, shear=[0.0], fill=-0.5)
        assert torch.equal(result, expected)


def test_shift_refuses_a_shift_out_of_view_and_a_wrong_shape(digits):
    with pytest.raises(ValueError, match="out of view"):
        shift(digits, 28, 0)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        shift(digits[0], 1, 0)


def test_brightness_and_contrast_scale_and_lift_each_image_and_stay_in_range(digits):
    from mnist_drill.augment import brightness_contrast, random_brightness_contrast

    b, c = torch.tensor([0.0, 0.2, -0.2]), torch.tensor([0.0, -0.2, 0.2])
    out = brightness_contrast(digits[:3], b, c)
    assert torch.equal(out[0], digits[0])  # no change
    assert torch.allclose(out[1], (0.8 * digits[1] + 0.2).clamp(0, 1)) and out.min() >= 0 and out.max() <= 1
    g = torch.Generator().manual_seed(0)
    b, c = random_brightness_contrast(10_000, 0.2, 0.2, 0.5, g)
    assert b.abs().max() <= 0.2 and c.abs().max() <= 0.2
    assert 0.45 < (b != 0).float().mean() < 0.55  # about half the images are left as they are
    assert torch.equal(b == 0, c == 0)


def test_a_whole_pixel_move_through_affine_is_exact():
    """The pad-and-crop shift (crop_pad) goes through affine with no rotation: whole pixels move exactly."""
    from mnist_drill.augment import affine, shift

    images = torch.rand(3, 1, 28, 28)
    moves = torch.tensor([[2.0, -1.0], [0.0, 2.0], [-2.0, -2.0]])
    moved = affine(images, torch.zeros(3), moves)
    for i, (dx, dy) in enumerate(moves.int().tolist()):
        assert torch.allclose(moved[i:i + 1], shift(images[i:i + 1], dx, dy), atol=1e-5)  # float32 rounding
