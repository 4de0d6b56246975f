"""Reference networks against torchvision's published weights metadata.

``num_params`` and ``_ops`` (GMACs of conv, linear and attention matmuls, rounded to 3 decimals)
are copied from ``torchvision.models.*_Weights.*.meta`` (torchvision 0.29): numbers published by
torchvision, not produced by this code. ``bench/compare_torchvision.py`` repeats the check against
a live PyTorch where one is installed.
"""

import pytest

from simulator.catalog import NETWORKS
from simulator.errors import ShapeError
from simulator.model.counts import count_network
from simulator.model.fusion import inference_view
from simulator.model.registry import height_width
from simulator.networks.mobilenet import make_divisible, mobilenet_v2
from simulator.networks.vit import vit_b_16, vit_l_16

# name: (num_params, _ops in GMACs) at 224×224
TORCHVISION = {
    "vgg11": (132_863_336, 7.609),
    "vgg13": (133_047_848, 11.308),
    "vgg16": (138_357_544, 15.47),
    "vgg19": (143_667_240, 19.632),
    "vgg16_bn": (138_365_992, 15.47),
    "resnet18": (11_689_512, 1.814),
    "resnet34": (21_797_672, 3.664),
    "resnet50": (25_557_032, 4.089),
    "resnet101": (44_549_160, 7.801),
    "resnet152": (60_192_808, 11.514),
    "resnext50_32x4d": (25_028_904, 4.23),
    "wide_resnet50_2": (68_883_240, 11.398),
    "mobilenet_v2": (3_504_872, 0.301),
    "vit_b_16": (86_567_656, 17.564),
    "vit_b_32": (88_224_232, 4.409),
    "vit_l_16": (304_326_632, 61.555),
    "vit_l_32": (306_535_400, 15.378),
}


TORCHVISION_FAMILIES = {f"simulator.networks.{m}" for m in ("alexnet", "vgg", "resnet", "mobilenet", "vit")}


def test_every_network_but_the_lectures_alexnet_is_checked_against_torchvision():
    lectures = {name for name, function in NETWORKS.items() if function.__module__ in TORCHVISION_FAMILIES}
    assert lectures - set(TORCHVISION) == {"alexnet"}


@pytest.mark.parametrize("name", sorted(TORCHVISION))
def test_params_match_torchvision_exactly_and_macs_to_published_precision(name):
    params, gmacs = TORCHVISION[name]
    counts = count_network(NETWORKS[name]())
    assert counts.params == params
    assert round(counts.macs / 1e9, 3) == pytest.approx(gmacs, abs=1e-9)


def test_vit_at_higher_resolution_matches_torchvision_swag_weights():
    # ViT_B_16_Weights.IMAGENET1K_SWAG_E2E_V1 (384 px) and ViT_L_16 SWAG (512 px)
    assert count_network(vit_b_16(resolution=384)).params == 86_859_496
    assert round(count_network(vit_b_16(resolution=384)).macs / 1e9, 3) == pytest.approx(55.484)
    assert count_network(vit_l_16(resolution=512)).params == 305_174_504
    assert round(count_network(vit_l_16(resolution=512)).macs / 1e9, 3) == pytest.approx(361.986)


def test_vit_rejects_a_resolution_not_divisible_by_the_patch():
    with pytest.raises(ShapeError, match="resolution 200 is not divisible by the patch size 16"):
        vit_b_16(resolution=200)


def test_resolution_changes_macs_quadratically_for_convnets():
    # a fully convolutional trunk with global pooling: conv MACs scale with H·W when every
    # feature map doubles exactly (224 → 7×7 at the end, 448 → 14×14)
    small, large = count_network(NETWORKS["resnet50"]()), count_network(NETWORKS["resnet50"](resolution=448))
    fc_macs = 2048 * 1000
    assert (large.macs - fc_macs) == 4 * (small.macs - fc_macs)
    assert small.params == large.params


def test_mobilenet_width_multiplier_rounds_channels_like_torchvision():
    assert make_divisible(32 * 0.5) == 16
    assert make_divisible(24 * 0.35) == 8   # 8.4 → 8 (not below 90% of 8.4)
    assert make_divisible(1280 * 1.4) == 1792
    half = count_network(mobilenet_v2(width_mult=0.5))
    assert half.params < count_network(mobilenet_v2()).params
    assert half.layers[0].output_shape == (1, 16, 112, 112)


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_inference_view_keeps_params_and_macs_and_drops_batchnorm_work(name):
    network = NETWORKS[name]()
    trained, fused = count_network(network), count_network(inference_view(network))
    assert fused.params == trained.params
    assert fused.macs == trained.macs
    assert fused.flops <= trained.flops
    assert fused.peak_activations <= trained.peak_activations
    # RetinaNet's P7 = conv(relu(P6)) while its heads read P6 itself: that ReLU stays a kernel
    kept = {"fpn.extra_blocks.relu"} if name == "retinanet" else set()
    if name == "unet3d":  # its ReLUs follow InstanceNorm (GroupNorm), which absorbs no activation
        kept = {node.name for node in network.nodes if node.kind == "ReLU"}
    if name.startswith("segnext"):  # MSCAN's pre-norm BatchNorms (no convolution before them to fold
        # into) and the decode head's ReLUs after GroupNorm
        kept = {node.name for node in network.nodes if node.name.endswith((".norm1", ".norm2", ".activate"))}
    assert all(layer.kind not in {"BatchNorm", "ReLU", "ReLU6"} or layer.name in kept
               for layer in fused.layers)


def test_inference_view_of_resnet50_removes_exactly_the_batchnorm_arithmetic():
    network = NETWORKS["resnet50"]()
    trained, fused = count_network(network), count_network(inference_view(network))
    batchnorm_elements = sum(layer.output_elements for layer in trained.layers if layer.kind == "BatchNorm")
    assert trained.flops - fused.flops == 2 * batchnorm_elements  # x·scale + shift per element
    # 53 convolutions and one fc, each with its BatchNorm (and ReLU) folded in, plus pools and adds
    assert sum(layer.kind == "Conv2d" for layer in fused.layers) == 53
    # the 16 residual adds (and their ReLUs) run in the epilogue of the convolution before them, as
    # TensorRT and ONNX Runtime fuse them: convs, fc, maxpool + avgpool, flatten remain
    assert len(fused.layers) == 53 + 1 + 2 + 1
    assert not any(layer.kind == "Add" for layer in fused.layers)
    assert sum("add" in layer.name for layer in fused.layers) == 16


def test_mobilenet_v2_fused_peak_is_in_the_first_expanding_block():
    # features.2's depthwise conv reads the 96×112×112 expansion and writes 96×56×56 (stride 2,
    # no residual), more than the expansion step itself (16×112×112 in, 96×112×112 out)
    fused = count_network(inference_view(mobilenet_v2()))
    assert fused.peak_activations == 96 * 112 * 112 + 96 * 56 * 56
    # eager PyTorch also keeps the un-fused BatchNorm output beside the conv output
    assert count_network(mobilenet_v2()).peak_activations == 2 * 96 * 112 * 112


def test_height_width_reads_a_square_or_a_pair_and_refuses_anything_else():
    assert height_width(224) == (224, 224)
    assert height_width((1024, 2048)) == (1024, 2048)
    for bad in (True, 224.0, (224,), (224, 224, 3), (224, "224")):
        with pytest.raises(ValueError, match="resolution"):
            height_width(bad)


def test_a_rectangular_segformer_input_keeps_height_and_width_apart():
    # SegFormer's first patch embedding is a 7x7 stride-4 conv with padding 3: H/4 x W/4 tokens.
    from simulator.networks.segformer import segformer_b0
    net = segformer_b0(resolution=(512, 1024))
    assert net.shape_of(net.outputs[0])[-2:] == (512 // 4, 1024 // 4)
