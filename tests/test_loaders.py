"""The input pipeline: normalised, seeded batches, and a validation split kept apart."""

from dataclasses import replace

import torch

from mnist_drill.config import STEP_2
from mnist_drill.data import VAL_SIZE, TensorLoader, load_split, make_loaders, mean_std, split_indices


def test_validation_split_is_disjoint_from_training():
    train_idx, eval_idx, from_train = split_indices("val", 60_000)
    assert from_train and len(eval_idx) == VAL_SIZE and len(train_idx) == 60_000 - VAL_SIZE
    assert not set(train_idx.tolist()) & set(eval_idx.tolist())
    assert int(eval_idx.min()) == 50_000  # the last 10k training images
    train_small, eval_small, _ = split_indices("val", 60_000, train_subset=100, eval_subset=10)
    assert not set(train_small.tolist()) & set(eval_small.tolist())


def test_validation_loaders_hold_out_the_last_images(mnist_root):
    config = replace(STEP_2, split="val", train_subset=300, eval_subset=200, rotation_deg=0.0)
    loaders = make_loaders(config, "cpu", torch.Generator().manual_seed(0), mnist_root)
    images, labels = load_split(mnist_root, train=True)
    assert loaders.eval_name == "Validation"
    expected = (images[50_000:50_200].float() / 255.0 - loaders.mean) / loaders.std
    got = torch.cat([x for x, _ in loaders.eval]).squeeze(1)
    assert torch.allclose(got, expected, atol=1e-6)
    assert torch.equal(torch.cat([y for _, y in loaders.eval]), labels[50_000:50_200])


def test_training_statistics_come_from_the_data(mnist_root):
    images, _ = load_split(mnist_root, train=True)
    mean, std = mean_std(images)
    assert round(mean, 4) == 0.1307 and round(std, 4) == 0.3081


def test_batches_are_normalised(mnist_root):
    config = replace(STEP_2, rotation_deg=0.0, train_subset=1000, eval_subset=500)
    loaders = make_loaders(config, "cpu", torch.Generator().manual_seed(0), mnist_root)
    x = torch.cat([x for x, _ in loaders.train])  # mean ~0, std ~1 over the subset
    assert abs(x.mean().item()) < 1e-4 and abs(x.std().item() - 1) < 1e-3


def test_fast_loader_is_seeded_shuffled_and_complete():
    images = torch.arange(10, dtype=torch.float32).view(10, 1, 1, 1).expand(10, 1, 28, 28).contiguous() / 10
    labels = torch.arange(10)

    def epoch(seed):
        loader = TensorLoader(images, labels, 4, 0.0, 1.0, shuffle=True, generator=torch.Generator().manual_seed(seed))
        return torch.cat([y for _, y in loader])

    assert len(TensorLoader(images, labels, 4, 0.0, 1.0)) == 3
    assert torch.equal(epoch(1), epoch(1))
    assert sorted(epoch(1).tolist()) == list(range(10))
    assert not torch.equal(epoch(1), labels) or not torch.equal(epoch(2), labels)


def test_rotation_changes_training_images_but_not_labels(mnist_root):
    config = replace(STEP_2, train_subset=256, eval_subset=100)
    plain = make_loaders(replace(config, rotation_deg=0.0), "cpu", torch.Generator().manual_seed(0), mnist_root)
    rotated = make_loaders(config, "cpu", torch.Generator().manual_seed(0), mnist_root)
    (x0, y0), (x1, y1) = next(iter(plain.train)), next(iter(rotated.train))
    assert torch.equal(y0, y1) and not torch.allclose(x0, x1)
    background = (0 - rotated.mean) / rotated.std
    assert torch.isclose(x1[:, :, 0, 0], torch.tensor(background)).all()  # corners filled with background


def test_affine_loader_draws_its_own_shift_and_zoom_per_image_seeded(mnist_root):
    from mnist_drill import augment

    config = replace(STEP_2, train_subset=64, eval_subset=10, batch_size=64)
    rotated = make_loaders(config, "cpu", torch.Generator().manual_seed(3), mnist_root)
    affine = make_loaders(replace(config, shift=0.1, scale=0.1), "cpu", torch.Generator().manual_seed(3), mnist_root)
    again = make_loaders(replace(config, shift=0.1, scale=0.1), "cpu", torch.Generator().manual_seed(3), mnist_root)
    (x0, y0), (x1, y1), (x2, _) = next(iter(rotated.train)), next(iter(affine.train)), next(iter(again.train))
    assert torch.equal(y0, y1) and torch.equal(x1, x2) and not torch.allclose(x0, x1)
    # the same draws by hand: the order, the angles (as rotation alone draws them), then shifts, then zooms
    g = torch.Generator().manual_seed(3)
    order = torch.randperm(64, generator=g)
    angles = augment.random_angles(64, 7.0, g)
    shifts, scales = augment.random_shifts(64, 0.1, 28, g), augment.random_scales(64, 0.1, g)
    images = affine.train.images[order]
    expected = (augment.affine(images, angles, shifts, scales) - affine.mean) / affine.std
    assert torch.allclose(x1, expected, atol=1e-6)


def test_augment_p_leaves_the_other_images_as_they_are(mnist_root):
    config = replace(STEP_2, train_subset=256, eval_subset=10, batch_size=256, shift=0.09, scale=0.09, augment_p=0.5)
    loaders = make_loaders(config, "cpu", torch.Generator().manual_seed(5), mnist_root)
    x, _ = next(iter(loaders.train))
    order = torch.randperm(256, generator=torch.Generator().manual_seed(5))
    plain = (loaders.train.images[order] - loaders.mean) / loaders.std
    untouched = (x - plain).abs().flatten(1).amax(1) < 1e-4  # an identity resampling, to float precision
    assert 0.3 < untouched.float().mean() < 0.7  # about half, drawn per image
