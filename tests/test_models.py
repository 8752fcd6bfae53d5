"""Model shapes, parameter budgets, the receptive-field table and the side-effect-free summary."""

import pytest
import torch

from mnist_drill.config import STEP_1, STEP_4, STEP_5, STEPS
from mnist_drill.lab.inspection import count_macs, format_receptive_fields, receptive_fields, summary_text
from mnist_drill.lab.recipes import variant
from mnist_drill.models import DrillNet, build_model, conv_block, count_params, separable_block


@pytest.mark.parametrize("step", sorted(STEPS))
def test_output_is_log_probabilities_per_class(step):
    model = build_model(STEPS[step]).eval()
    out = model(torch.randn(5, 1, 28, 28))
    assert out.shape == (5, 10)
    assert torch.allclose(out.exp().sum(1), torch.ones(5), atol=1e-5)


def test_parameter_budgets():
    assert 9700 <= count_params(build_model(STEP_1)) < 10_000  # about the reference's 9,840
    assert all(count_params(build_model(c)) < 10_000 for c in STEPS.values())
    assert count_params(build_model(STEP_4)) == count_params(build_model(variant(5, "7.6k-rotation"))) == 7_568
    assert count_params(build_model(STEP_5)) == count_params(build_model(variant(5, "9.8k"))) == 9_786
    assert count_params(build_model(variant(5, "5.7k-affine-wd-tta"))) == 5_680 < 6000


def test_count_params_by_hand():
    # conv 3x3 1->4 without bias (36) + BN (8); head 4->10 (40)
    assert count_params(DrillNet("C4 G")) == 36 + 8 + 40
    assert count_params(conv_block(4, 6, 1)) == 24 + 12


def test_separable_block_is_a_depthwise_then_a_pointwise_conv():
    block = separable_block(4, 6, order="bn-relu")
    depthwise, pointwise = block[0], block[1]
    assert (depthwise.groups, depthwise.kernel_size, pointwise.kernel_size) == (4, (3, 3), (1, 1))
    assert [type(m).__name__ for m in block] == ["Conv2d", "Conv2d", "BatchNorm2d", "ReLU"]
    # depthwise 9 x 4 + pointwise 4 x 6 + BN 2 x 6, where a 3x3 conv block would cost 9 x 4 x 6 + 12
    assert count_params(block) == 36 + 24 + 12
    model = DrillNet("C4 D6 G")
    assert count_params(model) == (36 + 8) + (36 + 24 + 12) + 60
    assert [r["output"][1:] for r in receptive_fields(model)][:3] == [(26, 26), (24, 24), (24, 24)]
    assert model(torch.randn(2, 1, 28, 28)).shape == (2, 10)


def test_block_order_is_conv_relu_bn_dropout():
    kinds = [type(m).__name__ for m in conv_block(1, 2, dropout=0.1)]
    assert kinds == ["Conv2d", "ReLU", "BatchNorm2d", "Dropout"]
    assert "Dropout" not in [type(m).__name__ for m in conv_block(1, 2, dropout=0.0)]


def test_bn_relu_order_puts_batchnorm_before_the_relu():
    kinds = [type(m).__name__ for m in conv_block(1, 2, order="bn-relu", dropout=0.1)]
    assert kinds == ["Conv2d", "BatchNorm2d", "ReLU", "Dropout"]
    with pytest.raises(ValueError, match="unknown block order 'relu-relu'"):
        conv_block(1, 2, order="relu-relu")


def test_step_1_places_gap_before_the_last_1x1_conv():
    model = build_model(STEP_1)
    assert isinstance(model.features[-1], torch.nn.AdaptiveAvgPool2d)
    assert model.head.kernel_size == (1, 1)
    assert not any(isinstance(m, torch.nn.Linear) for m in model.modules())


@pytest.mark.parametrize("arch, message", [("", "empty"), ("C8 X3 G", "bad token"), ("C8 M", "must end"),
                                           ("C8 G C8 G", "must end"), ("C4 " * 14 + "G", "nothing")])
def test_bad_arch_specs_are_refused(arch, message):
    with pytest.raises(ValueError, match=message):
        DrillNet(arch)


def test_receptive_field_table_follows_the_model():
    rows = receptive_fields(DrillNet("C4 C4 M T4 C4 G"))
    assert [r["rf"] for r in rows] == [3, 5, 6, 6, 10, 28, 28]
    assert [r["output"][1:] for r in rows] == [(26, 26), (24, 24), (12, 12), (12, 12), (10, 10), (1, 1), (1, 1)]
    assert "maxpool2x2" in format_receptive_fields(rows)


def test_summary_moves_neither_the_rng_nor_batchnorm_statistics():
    model = build_model(STEP_5)
    torch.manual_seed(0)
    state_before = {k: v.clone() for k, v in model.state_dict().items()}
    text = summary_text(model)
    after_summary = torch.rand(3)
    torch.manual_seed(0)
    assert torch.equal(after_summary, torch.rand(3))
    assert all(torch.equal(state_before[k], v) for k, v in model.state_dict().items())
    assert f"Total params: {count_params(model):,}" in text


def test_the_peer_recipes_network_is_the_published_3762_parameters():
    model = build_model(variant(5, "3.8k-peer"))
    assert count_params(model) == 3_762
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [4, 4, 4, 8, 8, 8, 8, 8, 8, 10] and all(c.bias is not None for c in convs)
    layers = [type(m).__name__ for m in model.features]
    assert layers.count("Dropout") == 2 and [layers[i + 1] for i, x in enumerate(layers) if x == "MaxPool2d"] == [
        "Dropout", "Dropout"]  # dropout after the two pools only, not after every conv


def test_multiply_adds_count_every_conv_output_times_what_it_reads():
    # C8 at 26x26 reads 9 inputs per output; M; C12 at 11x11 reads 8 x 9; GAP; the head reads 12 per class
    assert count_macs(DrillNet("C8 M C12 G")) == 26 * 26 * 8 * 9 + 11 * 11 * 12 * 72 + 10 * 12


def test_the_dilated_model_reads_every_way_the_pooled_one_could_subsample():
    pooled, dense = DrillNet("C8 M C10 C12 G").eval(), DrillNet("C8 S C10 C12 G").eval()
    dense.load_state_dict(pooled.state_dict())  # the same weights: S adds none
    x = torch.randn(2, 1, 28, 28)
    with torch.no_grad():
        for dy, dx in ((0, 0), (1, 1)):  # each of the pool's phases is every second pixel of the dense map
            first = pooled.features[0](x)[..., dy:, dx:]  # the first conv's map, cut to start at this phase
            shifted = pooled.features[2:-1](torch.nn.functional.max_pool2d(first, 2))
            assert torch.allclose(dense.features[:-1](x)[..., dy::2, dx::2], shifted, atol=1e-5)
    with pytest.raises(ValueError, match="make it the last pool"):
        DrillNet("C8 S C10 M C12 G")
