"""Stable Diffusion XL's UNet (one denoising step) and the diffusion kinds, against hand arithmetic.

The expected parameters and MACs are derived here from the SDXL base UNet's config
(stabilityai/stable-diffusion-xl-base-1.0 ``unet/config.json``) and diffusers' layer shapes, not read
from the code; 2,567,463,684 is diffusers' ``UNet2DConditionModel`` count for that checkpoint.
"""

from __future__ import annotations

import pytest

from simulator.catalog import build_network
from simulator.cli import main
from simulator.errors import SimulatorError
from simulator.model.counts import count_network
from simulator.model.formulas import layer_cost
from simulator.model.layers import GEGLU, ConditioningInput, CrossAttention, OutBiasSelfAttention
from simulator.simulation import simulate

TEMB, TEXT_TOKENS, TEXT_DIM = 1280, 77, 2048
# (channels, transformer blocks per Transformer2DModel, 0: none) at the latent, 1/2 and 1/4 sizes
LEVELS = ((320, 0), (640, 2), (1280, 10))


def conv(cin, cout, k, positions=0):
    """(params, MACs) of a k×k convolution with bias over ``positions`` outputs."""
    return cin * cout * k * k + cout, positions * cin * cout * k * k


def linear(fin, fout, rows=0, bias=True):
    return fin * fout + (fout if bias else 0), rows * fin * fout


def resnet(cin, cout, n):
    """ResnetBlock2D: norm1 (2·cin), conv1, time_emb_proj (1280 -> cout), norm2, conv2, 1×1 shortcut."""
    parts = [(2 * cin, 0), conv(cin, cout, 3, n), linear(TEMB, cout, 1), (2 * cout, 0),
             conv(cout, cout, 3, n)]
    if cin != cout:
        parts.append(conv(cin, cout, 1, n))
    return tuple(map(sum, zip(*parts, strict=True)))


def transformer(c, depth, n):
    """Transformer2DModel: GroupNorm, proj_in, ``depth`` blocks, proj_out; a block: 3 LayerNorms,
    attn1 (q, k, v without bias, out with), attn2 (q from c, k and v from 2048, out with bias),
    GEGLU feed-forward (c -> 8c with bias, 4c -> c with bias)."""
    block_params = 3 * 2 * c + (4 * c * c + c) + (2 * c * c + 2 * TEXT_DIM * c + c) + (c * 8 * c + 8 * c) \
        + (4 * c * c + c)
    block_macs = (4 * n * c * c + 2 * n * n * c) \
        + (2 * n * c * c + 2 * TEXT_TOKENS * TEXT_DIM * c + 2 * n * TEXT_TOKENS * c) + 12 * n * c * c
    params = 2 * c + 2 * (c * c + c) + depth * block_params
    return params, 2 * n * c * c + depth * block_macs


def sdxl(latent_h, latent_w):
    """(params, MACs) of one step of the SDXL base UNet on a (4, latent_h, latent_w) latent."""
    sizes = [(latent_h // 2**i) * (latent_w // 2**i) for i in range(3)]
    parts = [linear(320, TEMB, 1), linear(TEMB, TEMB, 1), linear(2816, TEMB, 1), linear(TEMB, TEMB, 1),
             conv(4, 320, 3, sizes[0])]
    skips, cin = [320], 320
    for i, (c, depth) in enumerate(LEVELS):
        for _ in range(2):
            parts.append(resnet(cin, c, sizes[i]))
            cin = c
            if depth:
                parts.append(transformer(c, depth, sizes[i]))
            skips.append(c)
        if i < 2:
            parts.append(conv(c, c, 3, sizes[i + 1]))  # Downsample2D: stride 2, at the next size
            skips.append(c)
    parts += [resnet(1280, 1280, sizes[2]), transformer(1280, 10, sizes[2]), resnet(1280, 1280, sizes[2])]
    for i in reversed(range(3)):
        c, depth = LEVELS[i]
        for _ in range(3):
            parts.append(resnet(cin + skips.pop(), c, sizes[i]))
            cin = c
            if depth:
                parts.append(transformer(c, depth, sizes[i]))
        if i:
            parts.append(conv(c, c, 3, sizes[i - 1]))  # Upsample2D: nearest ×2, then the conv
    parts += [(2 * 320, 0), conv(320, 4, 3, sizes[0])]
    return tuple(map(sum, zip(*parts, strict=True)))


def test_sdxl_unet_has_diffusers_parameter_count_and_hand_derived_macs():
    counts = count_network(build_network("sdxl_unet"))
    params, macs = sdxl(128, 128)
    assert params == 2_567_463_684  # diffusers: UNet2DConditionModel.from_pretrained(SDXL base, "unet")
    assert counts.params == params
    assert counts.macs == macs
    assert round(2 * macs / 1e12, 1) == 6.8  # ~6.8 TFLOP per step at 1024×1024


def test_sdxl_unet_scales_with_resolution_and_refuses_sizes_the_unet_cannot_take():
    counts = count_network(build_network("sdxl_unet", (768, 1344)))  # an SDXL aspect-ratio bucket
    assert (counts.params, counts.macs) == sdxl(96, 168)
    assert count_network(build_network("sdxl_unet", 512)).params == 2_567_463_684
    with pytest.raises(SimulatorError) as error:
        build_network("sdxl_unet", 1000)
    assert "\n" not in str(error.value) and "multiple of 32" in str(error.value)


def test_cross_attention_formula_by_hand():
    # T = 4 image tokens of E = 8, 2 heads, L = 3 context tokens of D_c = 5
    layer = CrossAttention(8, 2, 5)
    assert layer.output_shape(((4, 8), (3, 5))) == (4, 8)
    cost = layer_cost(layer, ((4, 8), (3, 5)), (4, 8))
    assert cost.params == 8 * 8 + 5 * 8 + 5 * 8 + 8 * 8 + 8    # to_q, to_k, to_v, to_out + its bias
    assert cost.macs == 4 * 8 * 8 + 2 * 3 * 5 * 8 + 2 * 4 * 3 * 8 + 4 * 8 * 8  # q; k, v; QKᵀ, AV; out
    assert cost.elementwise_ops == 4 * 8 + 2 * 4 * 3 * (1 + 5)  # out bias; scale + softmax per score
    assert layer.score_elements(((4, 8), (3, 5))) == 2 * 4 * 3
    with pytest.raises(SimulatorError, match="context_dim"):
        layer.output_shape(((4, 8), (3, 6)))


def test_self_attention_with_output_bias_and_geglu_by_hand():
    cost = layer_cost(OutBiasSelfAttention(8, 2), ((4, 8),), (4, 8))
    assert cost.params == 4 * 8 * 8 + 8                         # q, k, v, out; the out bias only
    assert cost.macs == 4 * 4 * 8 * 8 + 2 * 4 * 4 * 8           # projections; QKᵀ and AV
    assert cost.elementwise_ops == 4 * 8 + 2 * 4 * 4 * (1 + 5)
    geglu = layer_cost(GEGLU(), ((4, 16),), (4, 8))
    assert (geglu.params, geglu.macs, geglu.elementwise_ops) == (0, 0, 4 * 8 * (5 + 1))  # gelu + multiply
    side = layer_cost(ConditioningInput((77, 2048), "context"), ((4, 8, 8),), (77, 2048))
    assert (side.params, side.macs, side.elementwise_ops) == (0, 0, 0)


def test_sdxl_unet_simulates_and_exports_its_conditioning_as_graph_inputs(tmp_path):
    onnx = pytest.importorskip("onnx")
    result = simulate("sdxl_unet", "h100-sxm")
    assert result.latency_s > 0
    path = tmp_path / "sdxl.onnx"
    assert main(["export", "sdxl_unet", "-o", str(path), "--no-weights", "--resolution", "256"]) == 0
    inputs = {value.name: [d.dim_value or d.dim_param for d in value.type.tensor_type.shape.dim]
              for value in onnx.load(str(path)).graph.input}
    # the latent, then the text encoders' states and the two conditioning vectors, batch first
    assert inputs == {"input": ["batch", 4, 32, 32],
                      "encoder_hidden_states": ["batch", TEXT_TOKENS, TEXT_DIM],
                      "time_proj": ["batch", 1, 320], "add_time_proj": ["batch", 1, 2816]}
