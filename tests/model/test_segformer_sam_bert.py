"""SegFormer B0–B5, SAM ViT-B/L/H image encoders and BERT base/large, and their layer kinds.

Reference counts (``sum(p.numel())`` and MACs of conv, linear and attention matmuls by forward hooks,
equal to ``torch.utils.flop_counter``) are from /work/research/segformer_sam_bert/reference_counts.json:
transformers 5.24.0 ``SegformerForSemanticSegmentation`` and ``BertModel``, and
facebookresearch/segment-anything@dca509fe793f601edb92606367a655c15ac00fdf ``sam_model_registry[v]
(checkpoint=None).image_encoder``. SAM and BERT MACs are also derived here from the architecture.
"""

import math

import numpy as np
import pytest

from simulator.errors import ShapeError
from simulator.model.counts import count_network
from simulator.model.formulas import OPS_PER_ELEMENT, layer_cost
from simulator.model.graph import NetworkBuilder
from simulator.model.layers import Einsum, Embedding, SpatialReductionAttention, WindowedAttention
from simulator.model.layers.transformer import relative_indices
from simulator.networks.bert import bert_base, bert_large
from simulator.networks.sam import sam_vit_b, sam_vit_h, sam_vit_l
from simulator.networks.segformer import (
    segformer_b0,
    segformer_b1,
    segformer_b2,
    segformer_b3,
    segformer_b4,
    segformer_b5,
)

SEGFORMERS = (segformer_b0, segformer_b1, segformer_b2, segformer_b3, segformer_b4, segformer_b5)

# reference_counts.json: HF SegformerForSemanticSegmentation, (params, MACs) with 19 classes
SEGFORMER_CITYSCAPES = {
    "segformer_b0": (3_719_027, 120_957_435_904, 7_838_367_744),
    "segformer_b1": (13_682_131, 239_129_853_952, 15_328_608_256),
    "segformer_b2": (27_361_235, 703_485_444_096, 60_689_481_728),
    "segformer_b3": (47_237_075, 949_229_715_456, 77_314_654_208),
    "segformer_b4": (64_007_635, 1_226_752_131_072, 93_919_117_312),
    "segformer_b5": (84_607_955, 1_446_367_985_664, 109_861_928_960),
}   # params, MACs at 1024×2048, MACs at 512×512
# reference_counts.json *_ade150: the paper's ADE20K setting (150 classes, 512×512; B5 640×640);
# the paper (arXiv:2105.15203 Table 1) lists 3.8/13.7/27.5/47.3/64.1/84.7 M and
# 8.4/15.9/62.4/79.0/95.7/183.3 G
SEGFORMER_ADE = {
    "segformer_b0": (3_752_694, 8_387_821_568),
    "segformer_b1": (13_715_798, 15_878_062_080),
    "segformer_b2": (27_461_974, 62_337_843_200),
    "segformer_b3": (47_337_814, 78_963_015_680),
    "segformer_b4": (64_108_374, 95_567_478_784),
    "segformer_b5": (84_708_694, 183_141_171_200),
}
# segment-anything image encoders: params; (embed, depth, heads)
SAM = {sam_vit_b: (89_670_912, 768, 12, 12), sam_vit_l: (308_278_272, 1024, 24, 16),
       sam_vit_h: (637_026_048, 1280, 32, 16)}
# reference_counts.json sam_vit_*@1024x1024 macs (hooks + flop counter)
SAM_REFERENCE_MACS = {sam_vit_b: 486_038_667_264, sam_vit_l: 1_492_840_153_088, sam_vit_h: 2_980_541_415_424}
# HF BertModel with pooler; (params, hidden, layers, FFN); NVIDIA TensorRT demo/BERT README: 110M / 330M
BERT = {bert_base: (109_482_240, 768, 12, 3072), bert_large: (335_141_888, 1024, 24, 4096)}


# Networks against the references.

@pytest.mark.parametrize("network", SEGFORMERS, ids=lambda f: f.__name__)
def test_segformer_matches_hugging_face_on_cityscapes_and_ade20k(network):
    params, macs_city, macs_512 = SEGFORMER_CITYSCAPES[network.__name__]
    city = count_network(network())                         # default: 1024×2048 (non-square), 19 classes
    assert (city.params, city.macs) == (params, macs_city)
    assert count_network(network(resolution=512)).macs == macs_512
    ade_params, ade_macs = SEGFORMER_ADE[network.__name__]
    ade = count_network(network(640 if network is segformer_b5 else 512, num_classes=150))
    assert (ade.params, ade.macs) == (ade_params, ade_macs)
    assert round(ade.params / 1e6, 1) == pytest.approx(
        {"segformer_b0": 3.8, "segformer_b1": 13.7, "segformer_b2": 27.5, "segformer_b3": 47.3,
         "segformer_b4": 64.1, "segformer_b5": 84.7}[network.__name__], abs=0.1)


def test_segformer_output_is_logits_at_a_quarter_and_takes_height_width():
    net = segformer_b0((512, 1024))
    assert net.shape_of(net.outputs[0]) == (19, 128, 256)
    # SR attention: stage 1 has N = 128·256 queries and M = N / 8² keys
    first = next(node for node in net.nodes if isinstance(node.layer, SpatialReductionAttention))
    assert first.input_shapes == ((128 * 256, 32), (16 * 32, 32))
    # the B0 classifier head grows by (150-19)·(256+1) params and (150-19)·256 MACs per output pixel
    small, big = count_network(segformer_b0((512, 1024))), count_network(segformer_b0((512, 1024), 150))
    assert big.params - small.params == 131 * 257
    assert big.macs - small.macs == 131 * 256 * 128 * 256


def sam_macs(embed: int, depth: int, resolution: int) -> int:
    """ImageEncoderViT MACs from the architecture: patch conv, 4 global blocks, windowed blocks on the
    grid padded to a multiple of 14, MLPs, neck."""
    g = resolution // 16
    tokens = g * g
    padded = (-(-g // 14) * 14) ** 2
    window = 4 * padded * embed ** 2 + 2 * padded * 196 * embed + padded * (14 + 14) * embed
    glob = 4 * tokens * embed ** 2 + 2 * tokens * tokens * embed + tokens * (g + g) * embed
    mlp = 2 * tokens * embed * 4 * embed
    neck = tokens * 256 * embed + tokens * 256 * 256 * 9
    return 3 * 256 * embed * tokens + 4 * glob + (depth - 4) * window + depth * mlp + neck


@pytest.mark.parametrize("network", SAM, ids=lambda f: f.__name__)
def test_sam_image_encoder_matches_segment_anything(network):
    params, embed, depth, heads = SAM[network]
    counts = count_network(network())
    assert counts.params == params
    assert counts.macs == sam_macs(embed, depth, 1024) == SAM_REFERENCE_MACS[network]
    assert network().shape_of(network().outputs[0]) == (256, 64, 64)
    # at 224 px the 14×14 grid is one window, no padding; the global tables shrink to 2·14-1 rows
    small = count_network(network(resolution=224))
    assert small.macs == sam_macs(embed, depth, 224)
    pos_and_global_tables = (64 * 64 - 14 * 14) * embed + 4 * 2 * (127 - 27) * (embed // heads)
    assert params - small.params == pos_and_global_tables


def test_sam_vit_b_attention_terms_match_the_reference_breakdown():
    # reference_counts.json attention_detail: per window block 1,475,174,400 attention matmul MACs and
    # 105,369,600 rel-pos einsum MACs; per global block 25,769,803,776 and 402,653,184
    blocks = {node.name: node for node in sam_vit_b().nodes if isinstance(node.layer, WindowedAttention)}
    window, glob = blocks["blocks.0.attn"], blocks["blocks.2.attn"]
    projections = 4 * 70 * 70 * 768 ** 2, 4 * 64 * 64 * 768 ** 2
    assert layer_cost(window.layer, window.input_shapes, window.output_shape).macs - projections[0] == (
        1_475_174_400 + 105_369_600)
    assert layer_cost(glob.layer, glob.input_shapes, glob.output_shape).macs - projections[1] == (
        25_769_803_776 + 402_653_184)
    assert window.layer.score_elements(window.input_shapes) == 25 * 12 * 196 ** 2   # 11.5 M
    assert glob.layer.score_elements(glob.input_shapes) == 12 * 4096 ** 2           # 201 M


def test_sam_rejects_a_resolution_not_divisible_by_the_patch():
    with pytest.raises(ShapeError, match="resolution 1000 is not divisible by the patch size 16"):
        sam_vit_b(resolution=1000)


@pytest.mark.parametrize("network", BERT, ids=lambda f: f.__name__)
@pytest.mark.parametrize("seq_len", [16, 128, 384])   # 128 and 384: the TensorRT BERT demo's lengths
def test_bert_matches_hugging_face(network, seq_len):
    params, e, layers, ffn = BERT[network]
    counts = count_network(network(seq_len))
    assert counts.params == params
    per_layer = 4 * seq_len * e * e + 2 * seq_len * seq_len * e + 2 * seq_len * e * ffn
    assert counts.macs == layers * per_layer + e * e      # + the pooler's dense on token 0
    # embeddings: word 30522, token type 2, position 512 rows
    assert (30522 + 2 + 512) * e + 2 * e == sum(
        c.params for c in counts.layers if c.name.startswith("embeddings."))


def test_bert_reference_macs_and_position_limit():
    # reference_counts.json: bert_base@seq128 11,174,215,680 MACs, bert_large@seq384 123,212,922,880
    assert count_network(bert_base()).macs == 11_174_215_680
    assert count_network(bert_large(384)).macs == 123_212_922_880
    with pytest.raises(ShapeError, match="sequence length 513 exceeds the 512 positions"):
        bert_base(513)


# The new layer kinds by hand.

def cost(layer, *inputs):
    return layer_cost(layer, tuple(inputs), layer.output_shape(tuple(inputs)))


def test_spatial_reduction_attention_by_hand():
    # N = 64 queries, M = 4 keys/values, C = 8, 2 heads (d = 4)
    layer = SpatialReductionAttention(8, 2, sr_ratio=4)
    c = cost(layer, (64, 8), (4, 8))
    assert c.params == 4 * (8 * 8 + 8)
    assert c.macs == 64 * 64 + 64 * 64 + 4 * 64 + 4 * 64 + 2 * 64 * 4 * 8   # q, o; k, v; QKᵀ and AV
    scores = 2 * 64 * 4
    assert c.elementwise_ops == (64 + 64 + 4 + 4) * 8 + scores * (1 + OPS_PER_ELEMENT["softmax"])
    assert layer.score_elements(((64, 8), (4, 8))) == scores
    with pytest.raises(ShapeError, match="keys/values: expects"):
        layer.output_shape(((64, 8), (4, 6)))


def test_windowed_attention_by_hand():
    # a 5×5 grid, C = 8, 2 heads (d = 4), window 3: padded to 6×6 = 36 tokens, 4 windows of T = 9
    layer = WindowedAttention(8, 2, window=3)
    assert layer.geometry((5, 5, 8)) == (4, 3, 3, 6, 6)
    c = cost(layer, (5, 5, 8))
    assert c.params == 4 * 64 + 4 * 8 + (5 + 5) * 4            # qkv + proj, rel_pos_h and _w: (2·3-1, 4)
    per_window_head = 2 * 9 * 9 * 4 + 9 * 3 * 4 + 9 * 3 * 4     # QKᵀ, AV, two rel-pos einsums
    assert c.macs == 36 * 4 * 64 + 4 * 2 * per_window_head
    scores = 4 * 2 * 9 * 9
    assert c.elementwise_ops == 4 * 36 * 8 + 36 * 8 + scores * (5 + 2)
    assert layer.score_elements(((5, 5, 8),)) == scores
    # global: one window of all 25 tokens, tables of 2·5-1 rows, no padding
    glob = WindowedAttention(8, 2, window=0, rel_pos=False)
    assert glob.geometry((5, 5, 8)) == (1, 5, 5, 5, 5)
    assert cost(glob, (5, 5, 8)).macs == 4 * 25 * 64 + 2 * 25 * 25 * 8
    assert glob.score_elements(((5, 5, 8),)) == 2 * 25 * 25


def test_relative_indices_are_get_rel_pos():
    # get_rel_pos: (q_coords[:, None] - k_coords[None, :]) + (k_size - 1)
    assert relative_indices(3).tolist() == [[2, 1, 0], [3, 2, 1], [4, 3, 2]]


def test_embedding_by_hand():
    layer = Embedding(30522, 768, "tokens")
    assert cost(layer, (128,)) == layer_cost(layer, ((128,),), (128, 768))
    assert (cost(layer, (128,)).params, cost(layer, (128,)).macs, cost(layer, (128,)).elementwise_ops) == (
        30522 * 768, 0, 0)
    with pytest.raises(ShapeError, match="source must be one of"):
        Embedding(4, 2, "words").output_shape(((3,),))


def test_einsum_formula_by_hand():
    # "bhwc,hkc->bhwk" per sample: output (h=3, w=5, k=3), contracted c = 4: 45·4 MACs
    layer = Einsum("bhwc,hkc->bhwk", (3, 5, 3), 1, 2, 4, params=20)
    assert layer_cost(layer, ((3, 5, 4),), (3, 5, 3)).macs == 45 * 4
    assert layer_cost(layer, ((3, 5, 4),), (3, 5, 3)).params == 20


# ONNX: round trips of every new network, ONNX Runtime runs of the small ones.

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from simulator.onnx.reader import import_onnx, unsupported_operators  # noqa: E402
from simulator.onnx.writer import to_onnx  # noqa: E402

SMALL = [(f, ((128, 256),)) for f in SEGFORMERS] + [(f, (224,)) for f in SAM] + [
    (sam_vit_b, (256,)), (bert_base, (16,)), (bert_large, (16,))]


@pytest.mark.parametrize(("network", "args"), SMALL, ids=lambda v: getattr(v, "__name__", str(v)))
def test_new_networks_round_trip_with_identical_counts(network, args):
    net = network(*args)
    back = import_onnx(to_onnx(net, weights=False))
    a, b = count_network(net), count_network(back)
    assert (b.params, b.macs, b.flops) == (a.params, a.macs, a.flops)
    assert unsupported_operators(back) == {}


@pytest.mark.parametrize(("network", "args", "outputs"), [
    (segformer_b0, ((128, 256),), [(19, 32, 64)]),
    (sam_vit_b, (224,), [(256, 14, 14)]),
    (bert_base, (16,), [(16, 768), (768,)]),
], ids=["segformer_b0", "sam_vit_b", "bert_base"])
def test_onnx_runtime_runs_the_exports(network, args, outputs):
    net = network(*args)
    session = ort.InferenceSession(to_onnx(net, batch=None).SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    feed = np.random.default_rng(1).standard_normal([2, *net.input_shape]).astype(np.float32)
    results = session.run(None, {session.get_inputs()[0].name: feed})
    assert [r.shape[1:] for r in results] == outputs and all(r.shape[0] == 2 for r in results)
    assert all(np.isfinite(r).all() for r in results)


def test_embedding_export_looks_up_positions_and_segments():
    net = NetworkBuilder("lookups", (6,))
    words = net.embedding(net.input, 10, 4, "tokens", name="words")
    positions = net.embedding(net.input, 8, 4, "positions", name="positions")
    segments = net.embedding(net.input, 2, 4, "segments", name="segments")
    model = to_onnx(net.build([words, positions, segments]), batch=None)
    tables = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    ids = np.array([[3, 1, 4, 1, 5, 9], [2, 6, 5, 3, 5, 8]], dtype=np.float32)
    got_words, got_positions, got_segments = session.run(None, {"input": ids})
    np.testing.assert_array_equal(got_words, tables["words.weight"][ids.astype(int)])
    np.testing.assert_array_equal(got_positions, np.broadcast_to(tables["positions.weight"][:6], (2, 6, 4)))
    np.testing.assert_array_equal(got_segments, np.broadcast_to(tables["segments.weight"][0], (2, 6, 4)))
    back = import_onnx(model, batch=2)
    assert [node.kind for node in back.nodes].count("Embedding") == 3
    assert count_network(back).params == (10 + 8 + 2) * 4


def test_einsum_reader_counts_macs_and_the_gathered_table():
    from onnx import TensorProto, helper, numpy_helper
    table = numpy_helper.from_array(np.zeros((5, 4), np.float32), "rel_pos")
    index = numpy_helper.from_array(relative_indices(3), "index")
    nodes = [helper.make_node("Gather", ["rel_pos", "index"], ["R"], axis=0),
             helper.make_node("Einsum", ["x", "R"], ["y"], equation="bhwc,hkc->bhwk")]
    graph = helper.make_graph(nodes, "einsum", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                                  [1, 3, 7, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 7, 3])],
                              [table, index])
    back = import_onnx(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))
    counts = count_network(back)
    assert (counts.params, counts.macs) == (5 * 4, 3 * 7 * 3 * 4)
    assert math.prod(back.shape_of(back.outputs[0])) == 3 * 7 * 3
