"""ONNX export and import: round trips of every network, ONNX Runtime runs, hand-built models, the CLI."""

import json
import math

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from simulator.catalog import NETWORKS  # noqa: E402
from simulator.cli import main  # noqa: E402
from simulator.errors import SimulatorError  # noqa: E402
from simulator.model.counts import count_network  # noqa: E402
from simulator.model.formulas import ZERO_COST, LayerCost, layer_cost  # noqa: E402
from simulator.model.graph import NetworkBuilder  # noqa: E402
from simulator.model.layers import (  # noqa: E402
    LAYER_KINDS,
    ONNX_WRITERS,
    Fused,
    GenericOp,
    LatentAttention,
    MoEExperts,
    RMSNorm,
    Unsupported,
)
from simulator.networks.vit import vision_transformer  # noqa: E402
from simulator.onnx.reader import (  # noqa: E402
    UnsupportedOperatorWarning,
    import_onnx,
    unsupported_operators,
)
from simulator.onnx.writer import export_onnx, to_onnx  # noqa: E402

#: VGG's adaptive pool to 7×7 needs a multiple of 7 after five halvings; AlexNet needs room for 3 pools
RESOLUTION = {"vgg": 224, "alexnet": 128}


def small_resolution(name: str) -> int:
    return next((r for prefix, r in RESOLUTION.items() if name.startswith(prefix)), 64)


def small_size(name: str) -> dict[str, int]:
    """Keywords that build ``name`` small: a short sequence for BERT (it takes ``seq_len``, no
    resolution), a small resolution for the others."""
    if name == "unet3d":   # a 32³ patch: five stride-2 stages down to 1³
        return {"patch_size": 32}
    if name.startswith(("bert", "sdxl_text_encoder")):
        return {"seq_len": 16}
    if name in ("dlrm_v2", "rnnt", "whisper_large_v3_encoder"):   # no size parameter: their defaults
        return {}
    return {"resolution": small_resolution(name)}


def totals(network, batch=1):
    counts = count_network(network, batch)
    return counts.params, counts.macs, counts.flops


def every_kind_network():
    """A small network that uses every exportable layer kind (and both n-ary Add/Mul forms)."""
    net = NetworkBuilder("every_kind", (3, 32, 32))
    x = net.relu(net.batch_norm(net.conv2d(net.input, 16, 3, padding=1)))
    a = net.activation(net.group_norm(net.conv2d(x, 16, 3, padding=2, dilation=2, groups=4), 4), "silu")
    pointwise = net.conv2d(x, 16, 1, bias=False)
    b = net.activation(pointwise, "hardswish")
    c = net.activation(x, "sigmoid")
    x = net.mul(net.add_(a, b, c), c)
    x = net.mul(x, a, b, net.shared_conv2d(a, pointwise))   # RetinaNet's heads: the same weights again
    x = net.max_pool2d(x, 3, stride=2, padding=1, ceil_mode=True)
    x = net.interpolate(net.pad(net.layer_norm2d(x), 1), size=16, mode="bilinear")  # (16, 16, 16)
    x = net.layer_scale(net.nmf2d(x, 4, 2))   # SegNeXt's NMF2D (rank 4, 2 steps) and layer scale
    x = net.add_(x, net.conv2d(net.relu_linear_attention(net.conv2d(x, 24, 1), 8), 16, 1))  # LiteMLA, G=1
    x = net.concat(net.avg_pool2d(x, 2), net.relu6(net.avg_pool2d(x, 2)), dim=0)  # (32, 8, 8)
    grid = net.adaptive_avg_pool2d(x, 4)                                            # (32, 4, 4)
    seq = net.pool(net.conv1d(net.reshape(grid, (32, 16)), 16, 3, padding=1), "max", 2, dims=1)
    # SAM's windowed attention (window 3: the 4×4 grid padded to 6×6), then SegFormer's attention
    # with keys and values from a stride-2 convolution and LayerNorm
    tokens = net.reshape(net.windowed_attention(net.permute(grid, (1, 2, 0)), 4, window=3), (16, 32))
    reduced = net.layer_norm(net.permute(net.reshape(net.conv2d(grid, 32, 2, stride=2), (32, 4)), (1, 0)))
    t = net.class_token(net.spatial_reduction_attention(tokens, reduced, 4, sr_ratio=2))  # (17, 32)
    t = net.self_attention(net.layer_norm(net.positional_embedding(t)), 4)
    t = net.add_(t, net.linear(net.gelu(net.linear(t, 64)), 32))
    t = net.activation(net.matmul(net.softmax(net.matmul(t, net.permute(t, (1, 0)))), t), "tanh")
    head = net.linear(net.select_token(t), 10)
    # SDXL's kinds (a conditioning input, self-attention with the out bias only, cross-attention, GEGLU),
    # Whisper's attention without a key bias, RNN-T's LSTM and DLRM's embedding bag
    u = net.cross_attention(net.self_attention_out_bias(t, 4), net.conditioning_input((3, 12), "context"), 4)
    u = net.self_attention_no_key_bias(net.linear(net.geglu(net.linear(u, 64)), 32), 4)
    recurrent = net.linear(net.flatten(net.lstm(u, 8)), 10, bias=False)             # (17, 8) -> (10,)
    flat = net.flatten(net.adaptive_avg_pool2d(x, 1))                              # (32,)
    pooled = net.linear(flat, 10)
    positions = net.select_token(net.embedding(flat, 32, 10, "positions"))         # BERT's position table
    bag = net.embedding_bag(flat, 50, 10, 3)                                         # (10,)
    volume = net.conv_transpose3d(net.conv3d(net.reshape(grid, (2, 16, 4, 4)), 4, 3, padding=1), 2, 2,
                                  stride=2)                                          # 3D-UNet's (2, 32, 8, 8)
    out = net.add_(head, pooled, net.linear(net.flatten(seq), 10, bias=False), positions,
                   net.linear(net.flatten(volume), 10, bias=False), recurrent, bag)
    return net.build([out])


def llm_kinds_network(tokens=1, cached=3):
    """The LLM kinds on ``tokens`` new tokens over ``cached`` ones (the cache: graph inputs): RMSNorm over
    the features and per head, RoPE, causal attention with 2 query heads sharing 1 KV head of 8, SwiGLU
    and an untied LM head with a bias on the last token."""
    net = NetworkBuilder("llm_kinds", (tokens, 32))
    qkv = net.rotary_embedding(net.add(RMSNorm(8), net.linear(net.rms_norm(net.input), 32, bias=False)),
                               2, 1, 8)
    step = net.linear(net.causal_attention(qkv, 2, 1, 8, cached_tokens=cached), 32, bias=False)
    step = net.linear(net.swiglu(net.linear(step, 64, bias=False)), 32, bias=False)
    return net.build([net.lm_head(step, 10, bias=True, last_only=True)])


def run_onnxruntime(model, batch):
    """Runs ``model`` on random inputs (index inputs, an embedding bag's: row 0); returns its outputs and
    the network input's feed."""
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    rng, feeds = np.random.default_rng(1), {}
    for value in session.get_inputs():
        shape = [batch, *value.shape[1:]]
        feeds[value.name] = (np.zeros(shape, dtype=np.int64) if value.type == "tensor(int64)"
                             else rng.standard_normal(shape, dtype=np.float32))
    return session.run(None, feeds), feeds[session.get_inputs()[0].name]


# Export → import round trips.

@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_every_network_round_trips_with_identical_counts(name):
    network = NETWORKS[name](**small_size(name))
    back = import_onnx(to_onnx(network, batch=1, weights=False))
    assert totals(back) == totals(network)       # params, MACs and FLOPs, exactly
    assert unsupported_operators(back) == {}
    assert back.input_shape == network.input_shape


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2", "vit_b_32"])
def test_symbolic_and_fixed_batches_round_trip(name):
    network = NETWORKS[name](resolution=64)
    for export_batch, import_batch in ((None, 5), (3, 1)):
        back = import_onnx(to_onnx(network, batch=export_batch, weights=False), batch=import_batch)
        assert totals(back, 2) == totals(network, 2)   # per-sample counts: a fixed batch 3 divides out


def test_the_every_kind_network_covers_every_exportable_kind_and_round_trips():
    network = every_kind_network()
    kinds = {type(node.layer) for node in network.nodes}
    assert kinds | {type(node.layer) for node in llm_kinds_network().nodes} == set(ONNX_WRITERS)
    assert set(ONNX_WRITERS) == {kind for kind in LAYER_KINDS.values() if kind.exportable}
    not_exported = set(LAYER_KINDS.values()) - set(ONNX_WRITERS)   # imported-only kinds, MLA and MoE
    assert {Fused, GenericOp, Unsupported, LatentAttention, MoEExperts} <= not_exported
    assert not any(kind.exportable for kind in not_exported)
    for opset in (17, 21):   # decomposed GroupNorm and GELU, then the single operators
        back = import_onnx(to_onnx(network, opset=opset, weights=False))
        assert totals(back) == totals(network)
        kinds = {node.kind for node in back.nodes}
        assert {"GroupNorm", "GELU", "SiLU", "Hardswish", "ReLU6", "ClassToken", "PosEmbedding",
                "SelectToken", "Conv1d", "MaxPool1d"} <= kinds


@pytest.mark.parametrize(("tokens", "cached"), [(1, 3), (5, 0), (4, 2)])
def test_the_llm_kinds_round_trip(tokens, cached):
    network = llm_kinds_network(tokens, cached)
    back = import_onnx(to_onnx(network, weights=False))
    assert totals(back) == totals(network)
    assert {"RMSNorm", "RoPE", "CausalAttention"} <= {node.kind for node in back.nodes}   # the head: a Linear


def test_exported_weights_are_exactly_the_parameters():
    network = NETWORKS["resnet18"](resolution=64)
    model = to_onnx(network, weights=False)
    learned = sum(math.prod(t.dims) for t in model.graph.initializer if "running_" not in t.name)
    assert learned == count_network(network).params
    names = {t.name for t in model.graph.initializer}
    assert {"conv1.weight", "bn1.weight", "bn1.bias", "fc.weight", "fc.bias"} <= names


# ONNX Runtime runs the exported models.

@pytest.mark.parametrize(("build", "batch"), [
    (lambda: NETWORKS["resnet18"](resolution=64), 1),
    (lambda: NETWORKS["mobilenet_v2"](resolution=64), None),
    (lambda: vision_transformer("tiny_vit", 16, 2, 4, 64, 128, resolution=64), None),
    (every_kind_network, 1),
    (llm_kinds_network, None),
])
def test_onnxruntime_runs_exported_networks(build, batch):
    network = build()
    model = to_onnx(network, batch=batch)
    onnx.checker.check_model(model, full_check=True)
    run_batch = 1 if batch else 3
    (output,), _ = run_onnxruntime(model, run_batch)
    assert output.shape == (run_batch, *network.shape_of(network.outputs[0]))
    assert np.isfinite(output).all()


def test_decomposed_and_single_operator_exports_compute_the_same():
    network = every_kind_network()   # GroupNorm and GELU: decompositions at 17, operators at 21
    (at_17,), _ = run_onnxruntime(to_onnx(network, batch=None, opset=17, seed=3), 2)
    (at_21,), _ = run_onnxruntime(to_onnx(network, batch=None, opset=21, seed=3), 2)
    # float32 rounding of the two GroupNorm/GELU forms differs by ~1e-7; the network's NMF2D (seven
    # multiplicative updates and a softmax) amplifies it to ~5e-4 relative on a few outputs
    np.testing.assert_allclose(at_17, at_21, rtol=2e-3, atol=1e-5)


def test_exported_attention_matches_a_numpy_reference():
    net = NetworkBuilder("attention", (5, 8))
    net.self_attention(net.input, num_heads=2, name="attn")
    model = to_onnx(net.build(), batch=None, seed=7)
    (output,), x = run_onnxruntime(model, 3)
    w = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}

    def heads(part):  # (N, L, E) -> (N, h, L, d)
        y = x @ w[f"attn.{part}_proj.weight"] + w[f"attn.{part}_proj.bias"]
        return y.reshape(3, 5, 2, 4).transpose(0, 2, 1, 3)

    q, k, v = heads("q"), heads("k"), heads("v")
    scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(4)
    attention = np.exp(scores - scores.max(-1, keepdims=True))
    attention /= attention.sum(-1, keepdims=True)
    context = (attention @ v).transpose(0, 2, 1, 3).reshape(3, 5, 8)
    expected = context @ w["attn.out_proj.weight"] + w["attn.out_proj.bias"]
    np.testing.assert_allclose(output, expected, rtol=1e-4, atol=1e-5)


# Hand-built models, checked against hand arithmetic.

CUSTOM = helper.make_opsetid("com.example", 1)


def model_of(nodes, inputs, outputs, initializers=(), opset=17, extra_opsets=()):
    graph = helper.make_graph(nodes, "hand", inputs, outputs, list(initializers))
    opsets = [helper.make_opsetid("", opset), *extra_opsets]
    ir_version = helper.find_min_ir_version_for(opsets[:1])
    return helper.make_model(graph, opset_imports=opsets, ir_version=ir_version)


def weight(name, *shape):
    return numpy_helper.from_array(np.random.default_rng(0).standard_normal(shape).astype(np.float32), name)


def value(name, *shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape))


def constant(name, array):
    return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(np.asarray(array), name))


def cnn_model(batch="N"):
    nodes = [
        helper.make_node("Conv", ["x", "conv.weight", "conv.bias"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("GlobalAveragePool", ["r"], ["p"]),
        helper.make_node("Flatten", ["p"], ["f"], axis=1),
        helper.make_node("Gemm", ["f", "fc.weight", "fc.bias"], ["y"], transB=1),
    ]
    return model_of(nodes, [value("x", batch, 3, 8, 8)], [value("y", batch, 10)],
                    [weight("conv.weight", 4, 3, 3, 3), weight("conv.bias", 4), weight("fc.weight", 10, 4),
                     weight("fc.bias", 10)])


def test_hand_built_cnn():
    network = import_onnx(cnn_model(), batch=2)
    counts = count_network(network, batch=2)
    assert network.input_shape == (3, 8, 8)
    assert counts.params == 4 * 3 * 3 * 3 + 4 + 10 * 4 + 10       # conv weights + bias, fc weights + bias
    assert counts.macs == 2 * (4 * 3 * 3 * 3 * 8 * 8 + 10 * 4)    # batch × (conv c_o·c_i·k²·h·w + fc)
    kinds = [node.kind for node in network.nodes]
    assert kinds == ["Conv2d", "ReLU", "AdaptiveAvgPool2d", "Flatten", "Linear"]
    assert network.nodes[0].name == "conv"                       # named after its weight


def test_symbolic_batch_is_resolved_and_a_fixed_batch_divides_out():
    per_sample = totals(import_onnx(cnn_model(), batch=1))
    assert totals(import_onnx(cnn_model(), batch=7)) == per_sample
    fixed = import_onnx(cnn_model(batch=4))
    assert fixed.input_shape == (3, 8, 8) and totals(fixed) == per_sample


def test_hand_built_attention():
    nodes = [
        helper.make_node("MatMul", ["x", "wq"], ["q0"]), helper.make_node("Add", ["q0", "bq"], ["q"]),
        helper.make_node("MatMul", ["x", "wk"], ["k"]),
        helper.make_node("Transpose", ["k"], ["kt"], perm=[0, 2, 1]),
        helper.make_node("MatMul", ["q", "kt"], ["s"]),
        helper.make_node("Softmax", ["s"], ["a"], axis=-1),
        helper.make_node("MatMul", ["a", "x"], ["y"]),
    ]
    model = model_of(nodes, [value("x", "N", 5, 8)], [value("y", "N", 5, 8)],
                     [weight("wq", 8, 8), weight("bq", 8), weight("wk", 8, 8)])
    network = import_onnx(model)
    counts = count_network(network)
    assert counts.params == 8 * 8 + 8 + 8 * 8                       # W_q with bias, W_k without
    assert counts.macs == 2 * 5 * 8 * 8 + 2 * 5 * 5 * 8   # projections (L·E·E), Q·K^T and A·X (L·L·E)
    kinds = [node.kind for node in network.nodes]
    assert kinds == ["Linear", "Linear", "Permute", "MatMul", "Softmax", "MatMul"]


def torch_style_attention(batch):
    """``nn.MultiheadAttention`` as ``torch.onnx`` writes it: sequence-first, batch·heads merged by
    reshapes whose targets are computed from ``Shape`` (L = 4 tokens, E = 8, h = 2 heads of d = 4)."""
    def shape_of(tensor, out, *parts):  # Concat of Shape(x)[i] (ints) and constants (lists)
        pieces, nodes = [], []
        for k, part in enumerate(parts):
            name = f"{out}_{k}"
            if isinstance(part, list):
                nodes.append(constant(name, np.array(part, dtype=np.int64)))
            else:
                index, factor = part
                nodes += [helper.make_node("Shape", [tensor], [f"{name}_s"]),
                          constant(f"{name}_i", np.array([index], dtype=np.int64)),
                          helper.make_node("Gather", [f"{name}_s", f"{name}_i"], [f"{name}_g"], axis=0),
                          constant(f"{name}_f", np.array([factor], dtype=np.int64)),
                          helper.make_node("Mul", [f"{name}_g", f"{name}_f"], [name])]
            pieces.append(name)
        return [*nodes, helper.make_node("Concat", pieces, [out], axis=0)]

    nodes = [helper.make_node("Transpose", ["x"], ["xt"], perm=[1, 0, 2]),          # (L, N, E)
             helper.make_node("MatMul", ["xt", "in_w"], ["p"]),
             helper.make_node("Add", ["in_b", "p"], ["qkv"]),
             *shape_of("qkv", "s1", (0, 1), (1, 1), [3, 8]),
             helper.make_node("Reshape", ["qkv", "s1"], ["u"]),                        # (L, N, 3, E)
             constant("ax0", np.array([0])), helper.make_node("Unsqueeze", ["u", "ax0"], ["u1"]),
             helper.make_node("Transpose", ["u1"], ["u2"], perm=[3, 1, 2, 0, 4]),      # (3, L, N, 1, E)
             constant("ax3", np.array([3])), helper.make_node("Squeeze", ["u2", "ax3"], ["u3"])]
    for k, part in enumerate("qkv"):
        nodes += [constant(f"i{part}", np.array(k)),
                  helper.make_node("Gather", ["u3", f"i{part}"], [f"{part}0"], axis=0),  # (L, N, E)
                  *shape_of(f"{part}0", f"s{part}", [4], (1, 2), [4]),
                  helper.make_node("Reshape", [f"{part}0", f"s{part}"], [f"{part}1"]),   # (L, N·h, d)
                  helper.make_node("Transpose", [f"{part}1"], [part], perm=[1, 0, 2])]   # (N·h, L, d)
    nodes += [helper.make_node("Transpose", ["k"], ["kt"], perm=[0, 2, 1]),
              helper.make_node("MatMul", ["q", "kt"], ["scores"]),
              helper.make_node("Softmax", ["scores"], ["a"], axis=-1),
              helper.make_node("MatMul", ["a", "v"], ["c"]),                            # (N·h, L, d)
              helper.make_node("Transpose", ["c"], ["ct"], perm=[1, 0, 2]),             # (L, N·h, d)
              *shape_of("xt", "s2", (0, 1), (1, 1), [8]),
              constant("flat", np.array([-1, 8])), helper.make_node("Reshape", ["ct", "flat"], ["c2"]),
              helper.make_node("Gemm", ["c2", "out.weight", "out.bias"], ["o"], transB=1),  # (L·N, E)
              helper.make_node("Reshape", ["o", "s2"], ["o2"]),                         # (L, N, E)
              helper.make_node("Transpose", ["o2"], ["y"], perm=[1, 0, 2])]
    return model_of(nodes, [value("x", batch, 4, 8)], [value("y", batch, 4, 8)],
                    [weight("in_w", 8, 24), weight("in_b", 24), weight("out.weight", 8, 8),
                     weight("out.bias", 8)])


@pytest.mark.parametrize("batch", ["N", 1])
def test_torch_style_attention_with_batch_and_heads_merged(batch):
    model = torch_style_attention(batch)
    run_onnxruntime(model, 3 if batch == "N" else 1)                   # a valid, runnable model
    network = import_onnx(model, batch=2)
    reference = NetworkBuilder("mha", (4, 8))
    reference.self_attention(reference.input, 2)
    assert totals(network)[:2] == totals(reference.build())[:2]
    assert totals(network)[:2] == (4 * 8 * 8 + 4 * 8,                 # 4·E² + 4·E params
                                   4 * 4 * 8 * 8 + 2 * 4 * 4 * 8)     # 4·L·E² + 2·L²·E MACs
    matmuls = [node for node in network.nodes if node.kind == "MatMul"]
    assert [node.input_shapes for node in matmuls] == [((2, 4, 4), (2, 4, 4))] * 2   # per sample: h heads
    assert network.nodes[-1].output_shape == (4, 8)


def test_unsupported_operators_are_reported_by_name_and_count_and_pass_through():
    nodes = [
        helper.make_node("Relu", ["x"], ["r"]),
        helper.make_node("Foo", ["r"], ["f1"], domain="com.example"),
        helper.make_node("Foo", ["f1"], ["f2"], domain="com.example"),
        helper.make_node("ConvTranspose", ["f2", "w"], ["e"]),      # a standard operator with no reader
        helper.make_node("Flatten", ["e"], ["e2"]),
        helper.make_node("Gemm", ["e2", "fc.weight"], ["y"], transB=1),
    ]
    model = model_of(nodes, [value("x", "N", 4, 1)], [value("y", "N", 2)],
                     [weight("w", 4, 3, 1), weight("fc.weight", 2, 3)], extra_opsets=[CUSTOM])
    with pytest.warns(UnsupportedOperatorWarning, match=r"unsupported ONNX operators \(not counted\): "
                                                         r"ConvTranspose ×1, Foo ×2"):
        network = import_onnx(model)
    assert unsupported_operators(network) == {"ConvTranspose": 1, "Foo": 2}
    kinds = [node.kind for node in network.nodes]
    assert kinds == ["ReLU", "Unsupported:Foo", "Unsupported:Foo", "Unsupported:ConvTranspose", "Flatten",
                     "Linear"]
    assert network.nodes[3].output_shape == (3, 1)                  # its shape from ONNX inference
    assert count_network(network).params == 2 * 3                  # the ConvTranspose's weight is not counted
    assert count_network(network).macs == 2 * 3


def test_decomposed_patterns_become_layers():
    """LayerNorm as ReduceMean…Div, GELU as Erf, SiLU, Hardswish, ReLU6 and a Linear bias Add."""
    nodes = [
        constant("axes", np.array([-1])), constant("two", np.float32(2)), constant("eps", np.float32(1e-5)),
        helper.make_node("ReduceMean", ["x", "axes"], ["m"]), helper.make_node("Sub", ["x", "m"], ["d"]),
        helper.make_node("Pow", ["d", "two"], ["d2"]), helper.make_node("ReduceMean", ["d2", "axes"], ["v"]),
        helper.make_node("Add", ["v", "eps"], ["ve"]), helper.make_node("Sqrt", ["ve"], ["sd"]),
        helper.make_node("Div", ["d", "sd"], ["n"]), helper.make_node("Mul", ["n", "gamma"], ["ng"]),
        helper.make_node("Add", ["ng", "beta"], ["ln"]),
        constant("sqrt2", np.float32(math.sqrt(2))), constant("one", np.float32(1)),
        constant("half", np.float32(0.5)),
        helper.make_node("Div", ["ln", "sqrt2"], ["g1"]), helper.make_node("Erf", ["g1"], ["g2"]),
        helper.make_node("Add", ["g2", "one"], ["g3"]), helper.make_node("Mul", ["ln", "g3"], ["g4"]),
        helper.make_node("Mul", ["g4", "half"], ["gelu"]),
        helper.make_node("Sigmoid", ["gelu"], ["s"]), helper.make_node("Mul", ["gelu", "s"], ["silu"]),
        helper.make_node("HardSigmoid", ["silu"], ["h"], alpha=1 / 6),
        helper.make_node("Mul", ["silu", "h"], ["hs"]),
        constant("zero", np.float32(0)), constant("six", np.float32(6)),
        helper.make_node("Clip", ["hs", "zero", "six"], ["r6"]),
        helper.make_node("MatMul", ["r6", "w"], ["mm"]), helper.make_node("Add", ["b", "mm"], ["y"]),
    ]
    model = model_of(nodes, [value("x", "N", 5, 8)], [value("y", "N", 5, 3)],
                     [weight("gamma", 8), weight("beta", 8), weight("w", 8, 3), weight("b", 3)], opset=18)
    network = import_onnx(model)
    kinds = [node.kind for node in network.nodes]
    assert kinds == ["LayerNorm", "GELU", "SiLU", "Hardswish", "ReLU6", "Linear"]
    assert count_network(network).params == 2 * 8 + 8 * 3 + 3    # gamma, beta; W and b
    ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])  # a valid model


def test_asymmetric_padding_becomes_an_explicit_pad_and_keeps_macs_exact():
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[2, 2], pads=[0, 0, 1, 1]),
             helper.make_node("MaxPool", ["y"], ["z"], kernel_shape=[2, 2], strides=[2, 2],
                              auto_pad="SAME_UPPER")]
    model = model_of(nodes, [value("x", 1, 1, 5, 5)], [value("z", 1, 2, 3, 3)], [weight("w", 2, 1, 2, 2)])
    network = import_onnx(model)
    assert [node.kind for node in network.nodes] == ["Pad", "Conv2d", "Pad", "MaxPool2d"]
    assert network.nodes[1].output_shape == (2, 5, 5)                # (5 + 0 + 1 - 2) / 1 + 1
    assert count_network(network).macs == 2 * 1 * 2 * 2 * 5 * 5     # c_o·c_i·k²·h_o·w_o
    assert network.nodes[-1].output_shape == (2, 3, 3)               # SAME: ceil(5 / 2), padded 0 + 1


def test_generic_and_unsupported_layer_costs():
    reduce = layer_cost(GenericOp("ReduceMean", (8, 1)), ((8, 16),), (8, 1))
    assert reduce == LayerCost(0, 0, 8 * 16)                # one operation per input element
    scale = layer_cost(GenericOp("Mul", (4, 5), params=5), ((4, 5),), (4, 5))
    assert scale == LayerCost(5, 0, 4 * 5)                  # a learned per-column scale
    assert layer_cost(GenericOp("Pad", (3, 6, 6), ops_per_element=0), ((3, 4, 4),), (3, 6, 6)) == ZERO_COST
    assert layer_cost(Unsupported("Foo", (4,)), ((4,),), (4,)) == ZERO_COST
    net = NetworkBuilder("n", (4,))
    net.relu(net.add(Unsupported("Foo", (4,)), net.input, name="foo"))
    assert net.build().nodes[0].is_view                     # a pass-through: no bytes, no time


# Errors at the boundary.

def test_import_errors_name_the_problem(tmp_path):
    with pytest.raises(SimulatorError, match="does not exist"):
        import_onnx(tmp_path / "missing.onnx")
    (tmp_path / "bad.onnx").write_bytes(b"not a model")
    with pytest.raises(SimulatorError, match="cannot read ONNX model"):
        import_onnx(tmp_path / "bad.onnx")
    two_batches = model_of([helper.make_node("Add", ["a", "b"], ["y"])], [value("a", 1, 4), value("b", 2, 4)],
                           [value("y", 2, 4)])
    with pytest.raises(SimulatorError, match=r"input 'b' has batch 2, the network input 1"):
        import_onnx(two_batches)
    symbolic = model_of([helper.make_node("Relu", ["x"], ["y"])], [value("x", "N", "H")],
                        [value("y", "N", "H")])
    with pytest.raises(SimulatorError, match=r"dimension 1 is symbolic \('H'\)"):
        import_onnx(symbolic)
    with pytest.raises(SimulatorError, match="batch size must be an integer of at least 1, got 0"):
        import_onnx(cnn_model(), batch=0)
    merged = model_of([constant("s", np.array([3, 4])), helper.make_node("Reshape", ["x", "s"], ["y"])],
                      [value("x", 2, 6)], [value("y", 3, 4)])
    with pytest.raises(SimulatorError, match=r"tensor 'y' of shape \(3, 4\): the model's fixed batch 2"):
        import_onnx(merged)


def test_export_errors_name_the_problem(tmp_path):
    with pytest.raises(SimulatorError, match=r"adaptive pooling from \(2, 2\) to \(7, 7\).*224"):
        to_onnx(NETWORKS["vgg16"](resolution=64), weights=False)
    with pytest.raises(SimulatorError, match="opset must be an integer from 17"):
        to_onnx(NETWORKS["resnet18"](), opset=13)
    with pytest.raises(SimulatorError, match="batch must be a positive integer or None"):
        to_onnx(NETWORKS["resnet18"](), batch=0)
    with pytest.raises(SimulatorError, match="does not exist"):
        export_onnx(NETWORKS["resnet18"](), tmp_path / "missing" / "r.onnx")


# The CLI.

def test_cli_export_count_and_simulate(tmp_path, capsys):
    path = tmp_path / "resnet18.onnx"
    assert main(["export", "resnet18", "-o", str(path), "--resolution", "64", "--dynamic-batch"]) == 0
    assert "wrote" in capsys.readouterr().out and path.is_file()
    assert main(["count", str(path), "--batch", "2", "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["totals"]["params"] == 11_689_512 and document["input_shape"] == [2, 3, 64, 64]
    assert main(["simulate", str(path), "--device", "jetson-agx-orin"]) == 0
    assert "latency" in capsys.readouterr().out
    assert main(["export", "vgg16", "-o", str(tmp_path / "v.onnx"), "--resolution", "64"]) == 2
    assert "224" in capsys.readouterr().err
    shapes_only = tmp_path / "vit.onnx"
    assert main(["export", "vit_b_32", "-o", str(shapes_only), "--resolution", "64", "--batch", "2",
                 "--opset", "21", "--no-weights"]) == 0
    assert "shapes only" in capsys.readouterr().out
    assert shapes_only.stat().st_size < 1_000_000         # 88M parameters (352 MB), none written
    assert main(["count", str(shapes_only), "--format", "json"]) == 0
    vit = NETWORKS["vit_b_32"](resolution=64)
    assert json.loads(capsys.readouterr().out)["totals"]["macs"] == count_network(vit).macs


def test_cli_warns_about_unsupported_operators(tmp_path, capsys):
    nodes = [helper.make_node("Foo", ["x"], ["f"], domain="com.example"),
             helper.make_node("Relu", ["f"], ["y"])]
    model = model_of(nodes, [value("x", 1, 4)], [value("y", 1, 4)], extra_opsets=[CUSTOM])
    path = tmp_path / "foo.onnx"
    onnx.save(model, str(path))
    assert main(["count", str(path)]) == 0
    captured = capsys.readouterr()
    assert "Unsupported:Foo" in captured.out
    assert "roofline count: warning: unsupported ONNX operators (not counted): Foo ×1" in captured.err


def test_cli_export_defaults_to_a_symbolic_batch(tmp_path):
    path = tmp_path / "r18.onnx"
    assert main(["export", "resnet18", "--resolution", "32", "-o", str(path)]) == 0
    batch_dim = onnx.load(str(path)).graph.input[0].type.tensor_type.shape.dim[0]
    assert batch_dim.dim_param and not batch_dim.dim_value
