"""The MLPerf Inference networks (issue #20): parameters and MACs derived by hand from each reference's
layer table, or a published count with its source; each runs through count, simulate and export."""

import itertools

import pytest

from simulator.api import count
from simulator.errors import SimulatorError
from simulator.model.counts import count_network
from simulator.networks.retinanet import build_retinanet
from simulator.simulation import simulate

CONV3 = 256 * 256 * 9 + 256   # a 3×3 conv 256 -> 256 with bias (FPN output, P6, P7, head convs)


# RetinaNet: mlcommons/inference resnext50/retinanet.py, ResNeXt50-32x4d FPN, 264 classes, 800×800.

def _retinanet_params(num_classes: int) -> int:
    """Body: torchvision's resnext50_32x4d (25,028,904, torchvision ResNeXt50_32X4D_Weights meta) less the
    fc (2048·1000 + 1000) and the BatchNorm affine elements, which FrozenBatchNorm2d keeps as buffers:
    2·(stem 64 + per stage blocks·(w + w + 4p) + 4p for the downsample), widths w = 128, 256, 512,
    1024 for planes p = 64, 128, 256, 512 and 3, 4, 6, 3 blocks."""
    bn = 64 + sum(n * (2 * w + 4 * p) + 4 * p for n, w, p in
                  ((3, 128, 64), (4, 256, 128), (6, 512, 256), (3, 1024, 512)))
    assert bn == 34_112
    body = 25_028_904 - (2048 * 1000 + 1000) - 2 * bn
    fpn = (512 + 1024 + 2048) * 256 + 3 * 256 + 3 * CONV3 + 2 * CONV3   # laterals, outputs, P6, P7
    heads = 8 * CONV3 + (256 * 9 + 1) * 9 * (num_classes + 4)           # 4 + 4 convs, logits, boxes
    return body + fpn + heads


def test_retinanet_parameters_equal_the_reference_layer_table():
    assert _retinanet_params(264) == 37_060_652
    assert count("retinanet").params == _retinanet_params(264)


def test_the_same_code_with_a_resnet50_body_gives_torchvisions_published_count():
    # torchvision RetinaNet_ResNet50_FPN_Weights.COCO_V1 meta: num_params 34,014,999 (91 classes)
    network = build_retinanet("retinanet_resnet50_fpn", 800, 91, groups=1, width_per_group=64)
    assert count_network(network).params == 34_014_999


def test_retinanet_macs_scale_the_backbone_and_add_fpn_and_heads_by_hand():
    # 800 = 25·32 and 224 = 7·32: every body map is (25/7)² the 224×224 one, the fc drops out
    body = (count("resnext50_32x4d").macs - 2048 * 1000) * 625 // 49
    sides = (100, 50, 25, 13, 7)                     # P3..P7: 800/8 .. 800/32, then ceil-halvings
    area = [s * s for s in sides]
    fpn = (area[0] * 512 + area[1] * 1024 + area[2] * 2048) * 256 + sum(area) * 256 * 256 * 9
    heads = sum(area) * 256 * 9 * (8 * 256 + 9 * 264 + 9 * 4)
    assert count("retinanet").macs == body + fpn + heads


def test_retinanet_outputs_one_row_per_anchor():
    counts = count("retinanet")
    anchors = 9 * (100**2 + 50**2 + 25**2 + 13**2 + 7**2)
    shapes = {layer.name: layer.output_shape for layer in counts.layers}
    assert shapes["head.classification_head.cat"] == (1, anchors, 264)
    assert shapes["head.regression_head.cat"] == (1, anchors, 4)
    shared = [layer for layer in counts.layers if "@P" in layer.name and layer.kind == "Conv2d"]
    assert len(shared) == 2 * 5 * 4 and all(layer.params == 0 for layer in shared)   # levels P4..P7


# 3D-UNet: mlcommons/training image_segmentation unet3d.py + layers.py, Unet3D(1, 3, instancenorm, relu).

UNET_DOWN = [(32, 64), (64, 128), (128, 256), (256, 320), (320, 320)]   # the last: the bottleneck
UNET_UP = [(320, 320), (320, 256), (256, 128), (128, 64), (64, 32)]


def _unet3d_counts(side: int) -> tuple[int, int]:
    """(params, MACs) from the layer table: a conv block is Conv3d k3 (no bias, ``c_i·c_o·27``) and
    InstanceNorm3d (affine, ``2·c_o``); an upsample is ConvTranspose3d k2/2 (``c_i·c_o·8 + c_o``) on
    the coarse side, then blocks ``2·c_o -> c_o -> c_o``; the output conv is ``32·3 + 3``."""
    def block(c_in, c_out, out_side):
        return 27 * c_in * c_out + 2 * c_out, 27 * c_in * c_out * out_side**3

    parts = [block(1, 32, side), block(32, 32, side)]
    s = side
    for c_in, c_out in UNET_DOWN:
        s //= 2
        parts += [block(c_in, c_out, s), block(c_out, c_out, s)]
    for c_in, c_out in UNET_UP:
        parts.append((8 * c_in * c_out + c_out, 8 * c_in * c_out * s**3))
        s *= 2
        parts += [block(2 * c_out, c_out, s), block(c_out, c_out, s)]
    parts.append((32 * 3 + 3, 32 * 3 * side**3))
    return sum(p for p, _ in parts), sum(m for _, m in parts)


def test_unet3d_parameters_and_macs_equal_the_layer_table_at_mlperfs_128_cube():
    params, macs = _unet3d_counts(128)
    assert params == 31_190_243
    counts = count("unet3d")
    assert (counts.params, counts.macs) == (params, macs)
    assert counts.layers[-1].output_shape == (1, 3, 128, 128, 128)


def test_unet3d_patch_size_scales_macs_by_the_volume_and_refuses_what_cannot_meet():
    small = count("unet3d", params={"patch_size": 64})
    assert (small.params, small.macs) == _unet3d_counts(64)
    assert small.macs * 8 == count("unet3d").macs       # every map has 1/8 of the voxels
    for bad in (100, 16):
        with pytest.raises(SimulatorError, match=f"patch_size must be a positive multiple of 32.*got {bad}"):
            count("unet3d", params={"patch_size": bad})
    with pytest.raises(SimulatorError, match=r"patch_size .*got 0"):   # the catalog's own range check
        count("unet3d", params={"patch_size": 0})


# DLRM-v2: mlcommons/inference dlrm_v2 backend_pytorch_native.py (torchrec DLRM_DCN), Criteo 1TB multi-hot.

CRITEO_ROWS = [40_000_000, 39_060, 17_295, 7_424, 20_265, 3, 7_122, 1_543, 63, 40_000_000, 3_067_956,
               405_282, 10, 2_209, 11_938, 155, 4, 976, 14, 40_000_000, 40_000_000, 40_000_000, 590_152,
               12_973, 108, 36]
MULTI_HOT = [3, 2, 1, 2, 6, 1, 1, 1, 1, 7, 3, 8, 1, 6, 9, 5, 1, 1, 1, 12, 100, 27, 10, 3, 1, 1]


def _mlp(sizes):
    """(params, MACs) of Linear layers with biases through ``sizes``."""
    pairs = list(itertools.pairwise(sizes))
    return sum(i * o + o for i, o in pairs), sum(i * o for i, o in pairs)


def test_dlrm_v2_parameters_and_macs_from_the_reference_config():
    tables = sum(CRITEO_ROWS) * 128
    assert sum(CRITEO_ROWS) == 204_184_588                    # 5 tables of 40 M rows and 21 small ones
    n, r = 27 * 128, 512                                      # dense output and 26 bags, concatenated
    bottom, top = _mlp([13, 512, 256, 128]), _mlp([n, 1024, 1024, 512, 256, 1])
    cross = (3 * (2 * n * r + n), 3 * 2 * n * r)              # V (r·N), W (N·r) and b (N) per layer
    counts = count("dlrm_v2")
    assert counts.params == tables + bottom[0] + cross[0] + top[0] == 26_151_671_809
    assert counts.macs == bottom[1] + cross[1] + top[1]
    assert counts.params * 4 > 100 * 10**9                   # MLPerf: "about 100 GB" of fp32 weights


def test_dlrm_v2_is_gather_bound_reading_214_rows_per_sample():
    assert sum(MULTI_HOT) == 214
    from simulator.catalog import build_network
    from simulator.engine.workload import build_workload

    workload = build_workload(build_network("dlrm_v2"))
    assert workload.gathered_weight_elements.sum() == 214 * 128
    # the dense weights are streamed once per batch; the gathers once per sample
    assert workload.weight_elements.sum() == count("dlrm_v2").params - sum(CRITEO_ROWS) * 128
    small = count("dlrm_v2", params={"max_table_rows": 1000})
    assert small.params == count("dlrm_v2").params - 128 * sum(r - min(r, 1000) for r in CRITEO_ROWS)
    with pytest.raises(SimulatorError, match="max_table_rows must be from 1 to 40,000,000"):
        count("dlrm_v2", params={"max_table_rows": 50_000_000})


# Whisper's encoder: HF WhisperEncoder with openai/whisper-large-v3's config.

def test_whisper_large_v3_encoder_parameters_and_macs_by_hand():
    e, f, length, layers = 1280, 5120, 1500, 32
    attention = 4 * e * e + 3 * e                 # q, v, out with bias; k without (WhisperAttention)
    layer = 2 * 2 * e + attention + (e * f + f) + (f * e + e)       # two LayerNorms, fc1, fc2
    encoder = (128 * e * 3 + e) + (e * e * 3 + e) + length * e + layers * layer + 2 * e
    counts = count("whisper_large_v3_encoder")
    assert counts.params == encoder == 636_968_960
    # with the decoder derived the same way (51,866-token embedding, 448 positions, self- and cross-
    # attention, three LayerNorms a layer, the output projection tied): the model card's 1.54 B
    decoder = 51_866 * e + 448 * e + layers * (2 * attention + 3 * 2 * e + e * f + f + f * e + e) + 2 * e
    assert round((encoder + decoder) / 1e9, 2) == 1.54
    per_layer = 4 * length * e * e + 2 * length * length * e + 2 * length * e * f
    assert counts.macs == 128 * 3 * e * 3000 + e * 3 * e * 1500 + layers * per_layer


def test_attention_without_a_key_bias_by_hand():
    from simulator.model.graph import NetworkBuilder

    net = NetworkBuilder("attn", (4, 8))                  # L = 4 tokens, E = 8, 2 heads
    net.self_attention_no_key_bias(net.input, 2, name="attn")
    (layer,) = count_network(net.build()).layers
    assert layer.params == 4 * 8 * 8 + 3 * 8              # q, k, v, out weights; q, v, out biases
    assert layer.macs == 4 * 4 * 8 * 8 + 2 * 4 * 4 * 8     # projections, Q·Kᵀ and A·V
    assert layer.flops == 2 * layer.macs + 3 * 4 * 8 + 2 * 4 * 4 * (1 + 5)  # biases; scale + softmax


# RNN-T: mlcommons/inference rnnt.toml, model_separable_rnnt.py, rnn.py, decoders.py (greedy decoding).

def _lstm(n, h):
    """(params, MACs per step) of one nn.LSTM layer: W_ih (4h·n), W_hh (4h·h), b_ih and b_hh (4h each)."""
    return 4 * h * (n + h) + 8 * h, 4 * h * (n + h)


def test_lstm_layer_by_hand():
    from simulator.model.graph import NetworkBuilder

    net = NetworkBuilder("lstm", (5, 3))                  # 5 steps of 3 features, hidden 2
    net.lstm(net.input, 2, name="lstm")
    (layer,) = count_network(net.build()).layers
    assert layer.output_shape == (1, 5, 2)
    assert layer.params == 4 * 2 * (3 + 2) + 8 * 2 == 56
    assert layer.macs == 5 * 4 * 2 * (3 + 2)
    # per step and hidden unit: 4 adds (the two products), 8 bias adds, 3 sigmoids (4 each), 2 tanh,
    # f·c + i·g (3) and o·tanh(c) (1): 30
    assert layer.flops == 2 * layer.macs + 5 * 2 * 30


@pytest.mark.parametrize("frames, symbols", [(557, None), (300, 120)])
def test_rnnt_parameters_and_greedy_decoding_macs_by_hand(frames, symbols):
    layers = [(240, 1024), (1024, 1024), (2048, 1024), (1024, 1024), (1024, 1024), (320, 320), (320, 320)]
    joint = (1344 * 512 + 512) + (512 * 29 + 29)
    params = sum(_lstm(n, h)[0] for n, h in layers) + 28 * 320 + joint
    steps = -(-frames // 2)                               # StackTime: pad to even, stack pairs
    decode = steps + (symbols or 0)                       # one blank per frame, one step per character
    macs = (frames * (_lstm(240, 1024)[1] + _lstm(1024, 1024)[1])
            + steps * (_lstm(2048, 1024)[1] + 2 * _lstm(1024, 1024)[1])
            + decode * (2 * _lstm(320, 320)[1] + 1344 * 512 + 512 * 29))
    counts = count("rnnt", params={"frames": frames, "symbols": symbols})
    assert (counts.params, counts.macs) == (params, macs)
    assert params == 45_323_037


# Every new network runs through count and simulate, and exports.

NEW_NETWORKS = ["retinanet", "unet3d", "dlrm_v2", "whisper_large_v3_encoder", "rnnt"]


@pytest.mark.parametrize("name", NEW_NETWORKS)
def test_new_networks_count_and_simulate(name):
    counts = count(name)
    assert counts.params > 0 and counts.macs > 0
    result = simulate(name, "h100-sxm")
    assert result.latency_s > 0


@pytest.mark.parametrize("name, kind", [("dlrm_v2", "EmbeddingBag"),
                                        ("whisper_large_v3_encoder", "NoKeyBiasSelfAttention"),
                                        ("rnnt", "LSTM")])
def test_networks_with_the_newer_kinds_export_and_read_back_the_same_counts(name, kind):
    pytest.importorskip("onnx")
    from simulator.catalog import build_network
    from simulator.onnx.reader import import_onnx
    from simulator.onnx.writer import to_onnx

    network = build_network(name)
    assert kind in {type(node.layer).__name__ for node in network.nodes}
    back, ours = count_network(import_onnx(to_onnx(network, weights=False))), count_network(network)
    assert (back.params, back.macs, back.flops) == (ours.params, ours.macs, ours.flops)


def test_retinanet_exports_each_shared_weight_once_and_reads_it_back_shared():
    pytest.importorskip("onnx")
    import math

    from simulator.onnx.reader import import_onnx
    from simulator.onnx.writer import to_onnx

    network = build_retinanet("retinanet", 64, 264)
    model = to_onnx(network, weights=False)
    learned = sum(math.prod(t.dims) for t in model.graph.initializer
                  if not t.name.endswith(("running_mean", "running_var", "/scale")))
    assert learned == 37_060_652                          # the five levels' head convs: one weight each
    back = import_onnx(model)
    ours, theirs = count_network(network), count_network(back)
    assert (theirs.params, theirs.macs, theirs.flops) == (ours.params, ours.macs, ours.flops)
    shared = [n for n in back.nodes if type(n.layer).__name__ == "SharedConv"]
    assert len(shared) == 2 * 5 * 4 and {n.layer.shares for n in shared} == {
        f"head.{head}.{conv}" for head, last in (("classification_head", "cls_logits"),
                                                 ("regression_head", "bbox_reg"))
        for conv in ("conv.0", "conv.2", "conv.4", "conv.6", last)}


def test_unet3d_exports_and_round_trips_with_identical_counts():
    pytest.importorskip("onnx")
    from simulator.catalog import build_network
    from simulator.onnx.reader import import_onnx
    from simulator.onnx.writer import to_onnx

    network = build_network("unet3d", params={"patch_size": 32})
    back, ours = count_network(import_onnx(to_onnx(network, weights=False))), count_network(network)
    assert (back.params, back.macs, back.flops) == (ours.params, ours.macs, ours.flops)
    assert ours.params == 31_190_243
