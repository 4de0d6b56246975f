"""ONNX export of LLM passes: a tiny Llama-layout config written here, counted by hand, exported, read
back with the project's reader and run with ONNX Runtime; ``roofline export`` on LLM names and configs."""

import json

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

from simulator.cli import main  # noqa: E402
from simulator.errors import SimulatorError  # noqa: E402
from simulator.llm.as_network import llm_network  # noqa: E402
from simulator.model.counts import count_network  # noqa: E402
from simulator.model.layers import CausalAttention  # noqa: E402
from simulator.model.layers.llm_export import causal_mask  # noqa: E402
from simulator.onnx.reader import import_onnx  # noqa: E402
from simulator.onnx.writer import export_onnx, to_onnx  # noqa: E402

# the tiny config: d, heads, KV heads, head size, MLP, layers, vocabulary
D, H, KV, HD, FFN, LAYERS, VOCAB = 64, 4, 2, 16, 96, 2, 100


def tiny_config(path, tied=False):
    config = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": D,
              "intermediate_size": FFN, "num_attention_heads": H, "num_key_value_heads": KV,
              "num_hidden_layers": LAYERS, "vocab_size": VOCAB, "max_position_embeddings": 64,
              "tie_word_embeddings": tied, "rms_norm_eps": 1e-5}
    file = path / ("tiny_tied.json" if tied else "tiny.json")
    file.write_text(json.dumps(config))
    return file


def hand_params(tied=False):
    """Token table V·d; per layer two RMSNorms (2·d), the fused QKV d·(d + 2·KV·hd) (GQA), o_proj d²,
    gate/up and down 3·d·I; the final norm d; an untied LM head V·d."""
    per_layer = 2 * D + D * (D + 2 * KV * HD) + D * D + 3 * D * FFN
    return VOCAB * D + LAYERS * per_layer + D + (0 if tied else VOCAB * D)


def hand_macs(tokens, context):
    """Per layer: the projections' weights times T rows, attention 2·H·hd per (query, key) pair, of
    which the causal kernel computes T·c + T(T+1)/2; the LM head on the last token only: V·d."""
    weights = D * (D + 2 * KV * HD) + D * D + 3 * D * FFN
    pairs = tokens * context + tokens * (tokens + 1) // 2
    return LAYERS * (tokens * weights + 2 * H * HD * pairs) + VOCAB * D


def counts(network):
    c = count_network(network, 1)
    return c.params, c.macs


@pytest.mark.parametrize("tied", [False, True])
@pytest.mark.parametrize("opset", [17, 18])
def test_a_decode_step_round_trips_with_the_hand_counted_params_and_macs(tmp_path, tied, opset):
    network, _ = llm_network(tiny_config(tmp_path, tied), "decode", context=5)
    assert counts(network) == (hand_params(tied), hand_macs(1, 5))
    back = import_onnx(to_onnx(network, batch=1, opset=opset, weights=False))
    assert counts(back) == (hand_params(tied), hand_macs(1, 5))   # one query sees all 5 + 1 keys
    assert count_network(back, 1).flops == count_network(network, 1).flops


@pytest.mark.parametrize(("tokens", "context"), [(6, 0), (3, 4)])
def test_a_prefill_reads_back_as_the_causal_kernel(tmp_path, tokens, context):
    network, _ = llm_network(tiny_config(tmp_path), "prefill", seq_len=tokens, context=context)
    assert counts(network) == (hand_params(), hand_macs(tokens, context))
    back = import_onnx(to_onnx(network, batch=1, weights=False))
    # the MatMul computes T × (c + T) scores; the mask keeps the T·c + T(T+1)/2 the model costs
    assert counts(back) == (hand_params(), hand_macs(tokens, context))
    assert count_network(back, 1).flops == count_network(network, 1).flops
    assert {"RMSNorm", "RoPE", "CausalAttention"} <= {node.kind for node in back.nodes}


def test_the_exported_weights_are_exactly_the_parameters_and_the_cache_is_graph_inputs(tmp_path):
    network, _ = llm_network(tiny_config(tmp_path, tied=True), "decode", context=7)
    model = to_onnx(network, batch=None, weights=False)
    assert sum(int(np.prod(t.dims)) for t in model.graph.initializer) == hand_params(tied=True)
    inputs = {i.name: [d.dim_value or d.dim_param for d in i.type.tensor_type.shape.dim]
              for i in model.graph.input}
    assert inputs["l0.attn.past_key"] == ["batch", KV, 7, HD] == inputs["l1.attn.past_value"]
    assert len(inputs) == 1 + 2 * LAYERS   # the token ids and each layer's cached keys and values


def test_the_mask_hides_later_keys_and_those_out_of_the_window():
    # 3 new tokens after 2 cached: query i at position 2 + i sees keys 0 … 2 + i
    mask = causal_mask(np, CausalAttention(2, 1, 8, cached_tokens=2), 3)
    assert (mask == 0).tolist() == [[1, 1, 1, 0, 0], [1, 1, 1, 1, 0], [1, 1, 1, 1, 1]]
    # window 2 over 3 cached: the cache keeps W - 1 = 1 position; query i (position 3 + i) sees p > 1 + i
    windowed = causal_mask(np, CausalAttention(2, 1, 8, cached_tokens=3, window=2), 2)
    assert (windowed == 0).tolist() == [[1, 1, 0], [0, 1, 1]]
    assert CausalAttention(2, 1, 8, cached_tokens=3, window=2).attended_pairs(2) == 4   # the 4 seen


def test_onnxruntime_runs_an_exported_decode_step(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    network, _ = llm_network(tiny_config(tmp_path, tied=True), "decode", context=4)
    path = export_onnx(network, tmp_path / "tiny.onnx", batch=None)
    onnx.checker.check_model(str(path), full_check=True)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    rng, feeds = np.random.default_rng(0), {}
    for value in session.get_inputs():
        shape = [2, *value.shape[1:]]
        feeds[value.name] = (rng.integers(0, VOCAB, shape).astype(np.float32) if value.name == "input"
                             else rng.standard_normal(shape, dtype=np.float32))
    (logits,) = session.run(None, feeds)
    assert logits.shape == (2, 1, VOCAB) and np.isfinite(logits).all()


def test_roofline_export_of_a_config_reads_back_with_its_parameter_count(tmp_path, capsys):
    out = tmp_path / "tiny.onnx"
    assert main(["export", str(tiny_config(tmp_path)), "-o", str(out), "--phase", "prefill",
                 "--seq-len", "4"]) == 0
    assert "4, opset 17" in capsys.readouterr().out   # input batch x 4 tokens
    assert count_network(import_onnx(out)).params == hand_params()


def test_roofline_export_refuses_7b_random_weights_and_moe_in_one_line(tmp_path, capsys):
    assert main(["export", "llama_2_7b", "-o", str(tmp_path / "x.onnx")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--no-weights" in err and "27.0 GB" in err   # 4 B × 6.74e9
    assert main(["export", "mixtral_8x7b", "-o", str(tmp_path / "x.onnx"), "--no-weights"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "MoEExperts" in err and "RMSNorm" in err


def test_roofline_export_writes_a_7b_model_shapes_only(tmp_path):
    out = tmp_path / "llama.onnx"
    assert main(["export", "llama_2_7b", "-o", str(out), "--no-weights", "--context", "16"]) == 0
    assert count_network(import_onnx(out)).params == 6_738_415_616   # Llama-2-7B's count (Hugging Face)


@pytest.mark.parametrize(("tokens", "cached", "window"), [(4, 0, 0), (1, 5, 0), (3, 4, 0), (4, 3, 2)])
def test_onnxruntime_computes_grouped_query_causal_attention(tokens, cached, window):
    """The written attention against NumPy's: head h uses KV head h // (H/KV); query i (position c + i)
    sees the cached and new keys at positions p <= c + i (and c + i - p < W with a window)."""
    ort = pytest.importorskip("onnxruntime")
    from simulator.model.graph import NetworkBuilder

    heads, kv_heads, hd = 4, 2, 8
    net = NetworkBuilder("attention", (tokens, (heads + 2 * kv_heads) * hd))
    network = net.build([net.causal_attention(net.input, heads, kv_heads, hd, cached, window=window)])
    layer, name = network.nodes[-1].layer, network.nodes[-1].name
    model = to_onnx(network, batch=1)
    # read back as the kind: the pairs the mask keeps (the window's band included), not the square
    (back,) = [node.layer for node in import_onnx(model).nodes if node.kind == "CausalAttention"]
    assert back.attended_pairs(tokens) == layer.attended_pairs(tokens)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(3)
    feeds = {value.name: rng.standard_normal(value.shape, dtype=np.float32) for value in session.get_inputs()}
    (output,) = session.run(None, feeds)
    qkv = feeds["input"][0]
    q = qkv[:, :heads * hd].reshape(tokens, heads, hd)
    k = qkv[:, heads * hd:(heads + kv_heads) * hd].reshape(tokens, kv_heads, hd)
    v = qkv[:, (heads + kv_heads) * hd:].reshape(tokens, kv_heads, hd)
    past = layer.cached_read()
    if past:
        k = np.concatenate([feeds[f"{name}.past_key"][0].transpose(1, 0, 2), k])
        v = np.concatenate([feeds[f"{name}.past_value"][0].transpose(1, 0, 2), v])
    positions_q = cached + np.arange(tokens)[:, None]
    positions_k = cached - past + np.arange(past + tokens)[None, :]
    seen = (positions_k <= positions_q) & ((positions_q - positions_k < window) if window else True)
    expected = np.empty((tokens, heads, hd), np.float32)
    for h in range(heads):
        scores = np.where(seen, q[:, h] @ k[:, h // (heads // kv_heads)].T / np.sqrt(hd), -np.inf)
        weights = np.exp(scores - scores.max(axis=1, keepdims=True))
        expected[:, h] = (weights / weights.sum(axis=1, keepdims=True)) @ v[:, h // (heads // kv_heads)]
    np.testing.assert_allclose(output[0], expected.reshape(tokens, heads * hd), rtol=1e-4, atol=1e-5)


def test_onnxruntime_computes_rope_and_rms_norm_as_llama_does():
    """RoPE: ``x·cos(pθ) + rotate_half(x)·sin(pθ)``, ``θ_j = 10000^(-2j/hd)`` duplicated over both halves,
    ``rotate_half(x) = (-x₂, x₁)`` (transformers' Llama), on Q and K of each position ``p``; V unchanged.
    RMSNorm: ``x / sqrt(mean(x²) + 1e-5) · γ``."""
    ort = pytest.importorskip("onnxruntime")
    from onnx import numpy_helper

    from simulator.model.graph import NetworkBuilder

    tokens, heads, kv_heads, hd = 3, 2, 1, 8
    net = NetworkBuilder("rope", (tokens, (heads + 2 * kv_heads) * hd))
    network = net.build([net.rotary_embedding(net.rms_norm(net.input), heads, kv_heads, hd)])
    model = to_onnx(network, batch=1, seed=2)
    (gamma,) = [numpy_helper.to_array(t) for t in model.graph.initializer]
    x = np.random.default_rng(4).standard_normal((1, tokens, (heads + 2 * kv_heads) * hd), dtype=np.float32)
    (output,) = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(
        None, {"input": x})
    normed = x[0] / np.sqrt((x[0] ** 2).mean(axis=-1, keepdims=True) + 1e-5) * gamma
    angles = np.arange(tokens)[:, None] * 10000.0 ** (-np.arange(hd // 2) * 2 / hd)[None, :]
    cos, sin = np.cos(np.tile(angles, 2))[:, None], np.sin(np.tile(angles, 2))[:, None]
    rotary = normed[:, :(heads + kv_heads) * hd].reshape(tokens, heads + kv_heads, hd)
    turned = np.concatenate([-rotary[..., hd // 2:], rotary[..., :hd // 2]], axis=-1)
    expected = np.concatenate([(rotary * cos + turned * sin).reshape(tokens, -1),
                               normed[:, (heads + kv_heads) * hd:]], axis=-1)
    np.testing.assert_allclose(output[0], expected, rtol=1e-4, atol=1e-5)


def test_the_api_exports_an_llm_pass(tmp_path):
    import simulator

    path = simulator.export_onnx(tiny_config(tmp_path), tmp_path / "api.onnx", batch=None, weights=False,
                                 params={"phase": "prefill", "seq_len": 4})
    assert simulator.count(path).params == hand_params() and simulator.count(path).macs == hand_macs(4, 0)
    with pytest.raises(SimulatorError, match="takes the parameters phase, seq_len, context, got 'tokens'"):
        simulator.export_onnx("llama_2_7b", tmp_path / "x.onnx", params={"tokens": 3})
