"""EfficientViT networks: counts equal the references to the unit, new layer kinds, ONNX round trips.

Reference counts: /work/research/efficientvit/reference_counts.json, produced by instantiating
timm 1.0.31 ``timm.models.efficientvit_mit`` (classification) and
mit-han-lab/efficientvit@de7d7733cc0329f391b33f1f459271562ec27bd5 ``efficientvit/models/efficientvit/
{cls,seg,sam}.py`` (segmentation, SAM image encoders; ``efficientvit_l0`` is backbone L0 + L1's
ClsHead built from mit's modules), counted as Σ numel(parameters) and Conv2d + Linear + LiteMLA
matmul MACs. README figures: applications/efficientvit_{cls,seg,sam}/README.md at that commit.
"""

import numpy as np
import pytest

from simulator.catalog import NETWORKS
from simulator.model.counts import count_network
from simulator.model.formulas import layer_cost
from simulator.model.layers import MultiheadSelfAttention, ReLULinearAttention

# name -> params (timm / mit reference, to the unit)
PARAMS = {
    "efficientvit_b0": 3_410_008, "efficientvit_b1": 9_102_024, "efficientvit_b2": 24_330_712,
    "efficientvit_b3": 48_646_056, "efficientvit_l0": 42_422_280, "efficientvit_l1": 52_654_088,
    "efficientvit_l2": 63_707_016, "efficientvit_l3": 246_037_288,
    "efficientvit_seg_b0": 706_691, "efficientvit_seg_b1": 4_803_443, "efficientvit_seg_b2": 15_323_779,
    "efficientvit_seg_b3": 39_603_155, "efficientvit_seg_l1": 40_242_227, "efficientvit_seg_l2": 52_607_923,
    "efficientvit_sam_l0": 30_728_224, "efficientvit_sam_l1": 43_585_568, "efficientvit_sam_l2": 57_264_032,
    "efficientvit_sam_xl0": 112_893_344, "efficientvit_sam_xl1": 199_281_568,
}
ADE20K_PARAMS = {"b1": 4_791_414, "b2": 15_293_382, "b3": 39_546_198, "l1": 40_409_526, "l2": 51_462_454}

# (name, resolution, dataset or None) -> MACs of the reference code
MACS = {
    ("efficientvit_b0", 224, None): 100_233_216, ("efficientvit_b1", 224, None): 519_214_592,
    ("efficientvit_b1", 256, None): 676_915_712, ("efficientvit_b1", 288, None): 855_643_648,
    ("efficientvit_b1", 128, None): 172_272_128,   # timm: linear attention even at 4×4 tokens
    ("efficientvit_b2", 224, None): 1_584_937_984, ("efficientvit_b3", 224, None): 3_953_822_208,
    ("efficientvit_b3", 288, None): 6_530_386_432, ("efficientvit_l0", 224, None): 4_594_701_312,
    ("efficientvit_l1", 224, None): 5_258_479_616, ("efficientvit_l2", 224, None): 6_949_862_400,
    ("efficientvit_l2", 384, None): 20_398_822_400, ("efficientvit_l3", 224, None): 27_586_525_184,
    ("efficientvit_l3", 320, None): 56_251_443_200,
    ("efficientvit_seg_b0", (1024, 2048), "cityscapes"): 4_391_436_288,   # README 4.4G
    ("efficientvit_seg_b0", (1024, 1024), "cityscapes"): 2_195_718_144,
    ("efficientvit_seg_b1", (1024, 2048), "cityscapes"): 25_105_006_592,
    ("efficientvit_seg_b1", 512, "ade20k"): 3_090_415_616,
    ("efficientvit_seg_b3", (1024, 2048), "cityscapes"): 179_227_852_800,
    ("efficientvit_seg_l1", (1024, 2048), "cityscapes"): 282_480_082_944,  # README 282G
    ("efficientvit_seg_l1", 512, "ade20k"): 36_338_663_424,
    ("efficientvit_seg_l2", (1024, 2048), "cityscapes"): 396_122_652_672,  # README 396G
    ("efficientvit_seg_l2", 1024, "ade20k"): 180_701_102_080,
    ("efficientvit_sam_l0", 512, None): 34_774_974_464,    # README 35G
    ("efficientvit_sam_l1", 512, None): 48_980_295_680,    # README 49G
    ("efficientvit_sam_l2", 512, None): 68_554_326_016,    # README 69G
    ("efficientvit_sam_l2", 1024, None): 176_775_233_536,
    ("efficientvit_sam_xl0", 1024, None): 184_804_442_112,  # README 185G
    ("efficientvit_sam_xl1", 1024, None): 321_870_364_672,  # README 322G
    ("efficientvit_sam_xl1", 512, None): 177_305_681_920,
}


def build(name, resolution=None, dataset=None):
    options = {} if resolution is None else {"resolution": resolution}
    return NETWORKS[name](**options, **({"dataset": dataset} if dataset else {}))


@pytest.mark.parametrize("name", sorted(PARAMS))
def test_params_equal_the_reference_to_the_unit(name):
    assert count_network(build(name)).params == PARAMS[name]


@pytest.mark.parametrize("variant", sorted(ADE20K_PARAMS))
def test_ade20k_heads(variant):
    network = build(f"efficientvit_seg_{variant}", dataset="ade20k")
    assert network.input_shape == (3, 512, 512)            # the README's ADE20K size
    assert network.shape_of(network.outputs[0]) == (150, 64, 64)   # 150 classes at stride 8
    assert count_network(network).params == ADE20K_PARAMS[variant]


@pytest.mark.parametrize(("name", "resolution", "dataset"), sorted(MACS, key=str))
def test_macs_equal_the_reference(name, resolution, dataset):
    assert count_network(build(name, resolution, dataset)).macs == MACS[(name, resolution, dataset)]


def test_default_resolutions_and_output_shapes():
    assert build("efficientvit_b1").input_shape == (3, 224, 224)
    seg = build("efficientvit_seg_b0")
    assert seg.input_shape == (3, 1024, 2048) and seg.shape_of(seg.outputs[0]) == (19, 1024 // 8, 2048 // 8)
    assert build("efficientvit_sam_l0").input_shape == (3, 512, 512)
    sam = build("efficientvit_sam_xl0")
    assert sam.input_shape == (3, 1024, 1024) and sam.shape_of(sam.outputs[0]) == (256, 64, 64)
    with pytest.raises(ValueError, match="ade20k"):
        build("efficientvit_seg_b0", dataset="ade20k")   # mit's seg.py has no B0 ADE20K head


def test_non_square_resolution_scales_conv_macs_with_the_pixel_count():
    # every layer of b1 at 224×448 sees twice the positions of 224×224 except the head after the pool
    # (Linear 1536·1600 + 1600·1000) and attention, whose MACs are also linear in the token count
    square, wide = (count_network(build("efficientvit_b1", r)).macs for r in (224, (224, 448)))
    head = 1536 * 1600 + 1600 * 1000
    assert wide - head == 2 * (square - head)
    assert build("efficientvit_b1", (224, 448)).input_shape == (3, 224, 448)


def test_lite_mla_core_is_linear_in_tokens():
    # b1's last stage: 256 channels, head dim 16 -> 16 heads, scales (5,): G = 32 groups, 7×7 tokens
    layer = ReLULinearAttention(16)
    shape = (3 * 16 * 32, 7, 7)
    n, g, d = 49, 32, 16
    cost = layer_cost(layer, (shape,), layer.output_shape((shape,)))
    assert layer.output_shape((shape,)) == (16 * 32, 7, 7)
    assert cost.params == 0
    assert cost.macs == g * ((d + 1) * n * d + (d + 1) * d * n)       # v·kᵀ, then (v·kᵀ)·q
    assert cost.elementwise_ops == 2 * g * d * n + g * n + g * d * n   # ReLU q, k; + eps; divide
    assert layer.score_elements((shape,)) == g * (d + 1) * d           # the small context, not N×N
    # mit's quadratic fallback at N <= d: kᵀq (N×N) and v·att
    quad = ReLULinearAttention(16, quadratic_fallback=True)
    small = (3 * 16 * 32, 2, 2)
    q_cost = layer_cost(quad, (small,), quad.output_shape((small,)))
    assert q_cost.macs == 2 * g * d * 4 * 4
    assert q_cost.elementwise_ops == 2 * g * d * 4 + 2 * g * 4 * 4 + g * 4
    assert quad.score_elements((small,)) == g * 4 * 4


def test_softmax_attention_score_elements():
    assert MultiheadSelfAttention(768, 12).score_elements(((197, 768),)) == 12 * 197 * 197


onnx = pytest.importorskip("onnx")
from simulator.onnx.reader import import_onnx, unsupported_operators  # noqa: E402
from simulator.onnx.writer import to_onnx  # noqa: E402

# small resolutions: the round trip's cost is the graph, not the size
SMALL = {"efficientvit_seg": (64, 128), "efficientvit_sam": 64}


@pytest.mark.parametrize("name", sorted(PARAMS))
def test_onnx_round_trip_keeps_params_and_macs(name):
    resolution = next((r for prefix, r in SMALL.items() if name.startswith(prefix)), 64)
    network = build(name, resolution)
    back = import_onnx(to_onnx(network, weights=False))
    a, b = count_network(network), count_network(back)
    assert (b.params, b.macs, b.flops) == (a.params, a.macs, a.flops)
    assert unsupported_operators(back) == {}


@pytest.mark.parametrize(("name", "resolution"), [
    ("efficientvit_b0", 64), ("efficientvit_seg_b0", (128, 256)), ("efficientvit_sam_l0", 64)])
def test_onnxruntime_runs_an_export(name, resolution):
    ort = pytest.importorskip("onnxruntime")
    network = build(name, resolution)
    model = to_onnx(network, batch=None, opset=17)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    feed = np.random.default_rng(0).standard_normal((2, *network.input_shape), dtype=np.float32)
    (out,) = session.run(None, {session.get_inputs()[0].name: feed})
    assert out.shape == (2, *network.shape_of(network.outputs[0]))
    assert np.isfinite(out).all()
