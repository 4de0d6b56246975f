"""Non-square and odd resolutions on every built-in image network (issues #17 and #23).

Every network with a ``resolution`` parameter (enumerated from the registry) takes ``(height, width)``
or refuses it in one line that says why. The expected figures are derived by hand from the layer
formulas (MACs = output elements × kernel volume per output) and the published 224×224 counts.
"""

import math

import pytest

from simulator.api import count
from simulator.catalog import (
    MAX_RESOLUTION_PX,
    available_networks,
    build_network,
    network_parameters,
    parse_resolution,
)
from simulator.errors import SimulatorError
from simulator.model.counts import count_network
from simulator.simulation import simulate

IMAGE_NETWORKS = [name for name in available_networks() if "resolution" in network_parameters(name)]
DEVICE = "h100-sxm"

# The smallest side each network's layers take, derived by hand (no entry: a 1×1 input runs, as in
# PyTorch, because padding keeps every map at least 1×1):
#   alexnet: conv1 11/4 pad 2 gives floor((n − 7)/4) + 1 ≥ 15 for pool1, conv2 and pool2 (3/2) to
#     leave ≥ 3 for pool5: n ≥ 63;  vgg: five 2×2/2 pools: n ≥ 2**5;  ViT/SAM: one patch;
#   segformer: the stage-1 map ceil(n/4) must hold the 8×8/8 reduction conv: n ≥ 29;
#   efficientvit_seg: ceil(n/8) a positive multiple of 4: n ≥ 25;  ds_cnn_kws: pool n // 2 ≥ 1.
MINIMUM_SIDE = {
    "alexnet": 63, "ds_cnn_kws": 2,
    **{name: 32 for name in IMAGE_NETWORKS if name.startswith("vgg")},
    **{name: int(name[-2:]) for name in IMAGE_NETWORKS if name.startswith("vit_")},
    **{name: 16 for name in IMAGE_NETWORKS if name.startswith("sam_vit")},
    **{name: 29 for name in IMAGE_NETWORKS if name.startswith("segformer_")},
    **{name: 25 for name in IMAGE_NETWORKS if name.startswith("efficientvit_seg_")},
    "sdxl_unet": 32,  # the VAE's 8 pixels per latent position times the UNet's two 2x downsamplings
    "sdxl_vae_decoder": 8,  # one latent position per 8×8 pixels
}
# Why an odd non-square size (97×131) is refused: a patch size, or the head's 4:2:1 maps
ODD = (97, 131)
ODD_REFUSALS = {
    **{name: "patch size" for name in IMAGE_NETWORKS if name.startswith(("vit_", "sam_vit"))},
    **{name: "4:2:1" for name in IMAGE_NETWORKS if name.startswith("efficientvit_seg_")},
    "sdxl_unet": "multiple of 32",
    "sdxl_vae_decoder": "multiple of 8",
}


def test_the_registry_lists_the_image_networks_of_the_issue():
    # 56 + RetinaNet, three TinyEngine baselines, SDXL's UNet and VAE, SegNeXt T/S/B/L (#20)
    assert len(IMAGE_NETWORKS) == 66
    assert {"alexnet", "vgg16", "resnet50", "mobilenet_v2", "vit_b_16", "sam_vit_h"} <= set(IMAGE_NETWORKS)


def _input_side(name: str, network) -> tuple[int, ...]:
    """The (height, width) the network was built at, from its input shape."""
    if name == "fc_autoencoder_ad":  # a flattened (frames, n_mels) window
        return network.input_shape
    if name in ("sdxl_unet", "sdxl_vae_decoder"):  # the VAE's latent, 8 pixels per position
        return tuple(8 * side for side in network.input_shape[-2:])
    return network.input_shape[-2:]


def _assert_integer_counts(counts) -> None:
    totals = (counts.params, counts.macs, counts.flops, counts.total_activations, counts.peak_activations)
    assert all(type(value) is int and value >= 0 for value in totals)
    assert counts.macs > 0


@pytest.mark.parametrize("name", IMAGE_NETWORKS)
def test_every_image_network_counts_and_simulates_224x320(name):
    network = build_network(name, (224, 320))
    expected = (224 * 320,) if name == "fc_autoencoder_ad" else (224, 320)
    assert _input_side(name, network) == expected
    _assert_integer_counts(count_network(network))
    result = simulate(name, DEVICE, resolution=(224, 320))
    assert result.resolution == (224, 320) and math.isfinite(result.latency_s) and result.latency_s > 0


@pytest.mark.parametrize("name", IMAGE_NETWORKS)
def test_an_odd_non_square_size_works_or_is_refused_in_one_line_saying_why(name):
    if name in ODD_REFUSALS:
        with pytest.raises(SimulatorError) as error:
            build_network(name, ODD)
        message = str(error.value)
        assert "\n" not in message and "97x131" in message and ODD_REFUSALS[name] in message
    else:
        _assert_integer_counts(count_network(build_network(name, ODD)))


@pytest.mark.parametrize("name", [n for n in IMAGE_NETWORKS if n != "ds_cnn_kws"])  # its kernel is 10×4
def test_transposing_the_input_keeps_the_counts_of_square_kernels(name):
    size = (224, 320) if name in ODD_REFUSALS else ODD  # a size the network takes
    wide, tall = count(name, resolution=size), count(name, resolution=size[::-1])
    assert (wide.params, wide.macs, wide.flops) == (tall.params, tall.macs, tall.flops)


@pytest.mark.parametrize("name", IMAGE_NETWORKS)
def test_a_1x1_input_runs_or_names_the_networks_minimum(name):
    minimum = MINIMUM_SIDE.get(name)
    if minimum is None:
        _assert_integer_counts(count(name, resolution="1x1"))
        return
    with pytest.raises(SimulatorError) as error:
        build_network(name, "1x1")
    message = str(error.value)
    assert "\n" not in message
    assert f"resolution 1x1 is too small for network {name!r}" in message
    assert f"from {minimum} to {MAX_RESOLUTION_PX:,} pixels" in message
    build_network(name, minimum)  # the minimum itself builds
    if minimum > 1 and name not in ODD_REFUSALS:  # each side on its own: one side short is refused
        with pytest.raises(SimulatorError, match="too small"):
            build_network(name, (minimum - 1, 4 * minimum))


def test_the_maximum_builds_every_network_within_int64_and_one_more_pixel_is_refused():
    for name in IMAGE_NETWORKS:
        counts = count(name, resolution=MAX_RESOLUTION_PX)
        assert max(counts.macs, counts.flops, counts.params, counts.total_activations) < 2**63, name
        # at most 2**36: the SDXL VAE decoder's 256-channel maps at 16,384² pixels are exactly 2**8·2**28
        assert max(layer.output_elements for layer in counts.layers) <= 2**36, name
    for too_large in (MAX_RESOLUTION_PX + 1, (224, MAX_RESOLUTION_PX + 1), "1000000x1000000"):
        with pytest.raises(SimulatorError, match=f"exceeds the maximum {MAX_RESOLUTION_PX:,}"):
            parse_resolution(too_large)


@pytest.mark.parametrize("text, expected", [
    ("224", 224), ("224x320", (224, 320)), ("224X224", (224, 224)), ("224×224", (224, 224)),
    (" 224 x 224 ", (224, 224)), ((224, 320), (224, 320)), ([224, 320], (224, 320)),
])
def test_resolution_spellings(text, expected):
    assert parse_resolution(text) == expected


@pytest.mark.parametrize("value, words", [
    ("-1x224", ("'-1x224'", "height -1 must be at least 1")),
    ("224x0", ("width 0 must be at least 1",)),
    (0, ("side 0 must be at least 1",)),
    ("abc", ("SIZE or HEIGHTxWIDTH", "'abc'")),
    ("224x224x3", ("SIZE or HEIGHTxWIDTH", "'224x224x3'")),
    (224.0, ("SIZE or HEIGHTxWIDTH", "224.0")),
    (True, ("SIZE or HEIGHTxWIDTH", "True")),
    ((224, 320, 3), ("SIZE or HEIGHTxWIDTH",)),
])
def test_bad_resolutions_are_one_line_naming_the_value_and_the_range(value, words):
    with pytest.raises(SimulatorError) as error:
        build_network("resnet50", value)
    message = str(error.value)
    assert "\n" not in message and f"{MAX_RESOLUTION_PX:,}" in message
    for word in words:
        assert word in message


# Hand-derived counts at 224×320. ResNet-50 and MobileNetV2 downsample by 32 and 224 = 7·32,
# 320 = 10·32: every map is 10/7 as wide as at 224×224 and as high, so every convolution's MACs
# (output elements × C_in/groups × k²) scale by exactly 10/7; the classifier after the global pool
# does not change. The 224×224 totals are torchvision's published GMACs.

def test_resnet50_at_224x320_scales_conv_macs_by_10_over_7():
    square, wide = count("resnet50"), count("resnet50", resolution=(224, 320))
    assert round(square.macs / 1e9, 3) == 4.089  # torchvision ResNet50_Weights meta
    fc = 2048 * 1000
    assert (square.macs - fc) * 10 % 7 == 0
    assert wide.macs == (square.macs - fc) * 10 // 7 + fc
    assert wide.params == square.params == 25_557_032  # the global pool leaves the fc at 2048 inputs
    assert count("resnet50", resolution="320x224").macs == wide.macs


def test_mobilenet_v2_at_224x320_scales_conv_macs_by_10_over_7():
    square, wide = count("mobilenet_v2"), count("mobilenet_v2", resolution=(224, 320))
    assert round(square.macs / 1e9, 3) == 0.301  # torchvision MobileNet_V2_Weights meta
    classifier = 1280 * 1000
    assert wide.macs == (square.macs - classifier) * 10 // 7 + classifier
    assert wide.params == square.params == 3_504_872


def _alexnet_counts(height: int, width: int) -> tuple[int, int]:
    """(params, MACs) of the lecture's AlexNet from the layer table: conv out = floor((n + 2p − k)/s) + 1,
    max-pool 3/2 out = floor((n − 3)/2) + 1; grouped convs see C_in / 2 channels."""
    def conv(n, k, s, p):
        return (n + 2 * p - k) // s + 1

    def pool(n):
        return (n - 3) // 2 + 1

    h1, w1 = conv(height, 11, 4, 2), conv(width, 11, 4, 2)
    h2, w2 = pool(h1), pool(w1)
    h3, w3 = pool(h2), pool(w2)
    h5, w5 = pool(h3), pool(w3)
    layers = [  # (out channels, in channels per group, k, output elements per channel)
        (96, 3, 11, h1 * w1), (256, 48, 5, h2 * w2), (384, 256, 3, h3 * w3), (384, 192, 3, h3 * w3),
        (256, 192, 3, h3 * w3)]
    macs = sum(c * cin * k * k * hw for c, cin, k, hw in layers)
    params = sum(c * cin * k * k + c for c, cin, k, _ in layers)
    for n_in, n_out in ((256 * h5 * w5, 4096), (4096, 4096), (4096, 1000)):
        macs += n_in * n_out
        params += n_in * n_out + n_out
    return params, macs


def test_alexnet_formula_reproduces_the_lectures_224_count():
    assert _alexnet_counts(224, 224)[1] == 724_406_816  # the lecture's figure (module docstring)


def test_alexnet_at_224x320_has_a_6x9_map_before_fc6():
    counts = count("alexnet", resolution=(224, 320))
    assert (counts.params, counts.macs) == _alexnet_counts(224, 320)
    shapes = {layer.name: layer.output_shape for layer in counts.layers}
    assert shapes["conv1"] == (1, 96, 55, 79) and shapes["conv5.pool"] == (1, 256, 6, 9)
    # fc6 takes the 6×9 map: 256·(6·9 − 6·6)·4096 more weights than the trained 6×6 one
    assert counts.params - count("alexnet").params == 256 * (6 * 9 - 6 * 6) * 4096


def _vit_b_16_macs(tokens: int, patches: int) -> int:
    """Patch conv ``E·3·16²`` per patch, per layer ``4·N·E² + 2·N²·E`` (attention) ``+ 2·N·E·F`` (MLP),
    the head ``E·1000``; E = 768, F = 3072, 12 layers."""
    e, f = 768, 3072
    layer = 4 * tokens * e * e + 2 * tokens**2 * e + 2 * tokens * e * f
    return e * 3 * 16 * 16 * patches + 12 * layer + e * 1000


def test_vit_b_16_at_224x320_has_14x20_patches_plus_the_class_token():
    assert count("vit_b_16").macs == _vit_b_16_macs(197, 196)  # formula against the 224×224 count
    counts = count("vit_b_16", resolution=(224, 320))
    patches = (224 // 16) * (320 // 16)
    assert patches == 280 and counts.macs == _vit_b_16_macs(patches + 1, patches)
    pos = next(layer for layer in counts.layers if layer.name == "encoder.pos_embedding")
    assert pos.output_shape == (1, 281, 768) and pos.params == 281 * 768
    # the positional embedding has a row per token (as torchvision's interpolated weights at 384 do)
    assert counts.params == 86_567_656 + (281 - 197) * 768


def test_sam_relative_position_tables_follow_a_non_square_grid():
    counts = count("sam_vit_b", resolution=(224, 320))  # a 14×20 grid; window 14, head dim 64
    params = {layer.name: layer.params for layer in counts.layers}
    c, d = 768, 64
    assert params["pos_embed"] == 14 * 20 * c
    assert params["blocks.2.attn"] == 4 * c * c + 4 * c + (2 * 14 - 1 + 2 * 20 - 1) * d  # global
    assert params["blocks.0.attn"] == 4 * c * c + 4 * c + (2 * 14 - 1 + 2 * 14 - 1) * d  # windowed


def test_a_resolution_in_params_is_read_as_the_resolution():
    assert build_network("alexnet", params={"resolution": "224x320"}).input_shape == (3, 224, 320)
    with pytest.raises(SimulatorError, match="from 63 to"):
        build_network("alexnet", params={"resolution": (1, 1)})
