"""SDXL's text encoders and VAE decoder (issue #20), against counts derived here from the references' configs.

CLIP ViT-L/14 text (openai/CLIP ``clip/model.py``; HF ``CLIPTextModel``): vocab 49408, width 768, 12
layers, 77 tokens, MLP 4·width. OpenCLIP ViT-bigG/14 text (open_clip ``ViT-bigG-14.json``; HF
``CLIPTextModelWithProjection``): width 1280, 32 layers, projection 1280 without bias. The SDXL VAE
(diffusers ``AutoencoderKL``, SDXL's ``vae/config.json``): latent 4, ``block_out_channels`` 128, 256,
512, 512, ``layers_per_block`` 2 (the decoder has 3 resnets per up block), 32 groups. The expected values
are formulas of those configs, not the code's output.
"""

from __future__ import annotations

import pytest

from simulator.catalog import build_network
from simulator.errors import SimulatorError
from simulator.model.counts import count_network
from simulator.model.formulas import layer_cost
from simulator.model.layers import Activation

VOCAB, CONTEXT = 49408, 77
VAE_CHANNELS = (128, 256, 512, 512)


def clip_text(width: int, layers: int, projection: int | None, tokens: int = CONTEXT) -> tuple[int, int]:
    """(params, MACs) of a CLIP text transformer: token and position tables; per layer two LayerNorms
    (2·2E), q, k, v, out (4·(E² + E)), fc1 (E·4E + 4E), fc2 (4E·E + E); the final LayerNorm; the
    projection E·P. MACs per layer: projections 4·L·E², scores and context 2·L²·E, MLP 2·L·E·4E."""
    e = width
    layer = 2 * 2 * e + 4 * (e * e + e) + (e * 4 * e + 4 * e) + (4 * e * e + e)
    params = VOCAB * e + CONTEXT * e + layers * layer + 2 * e + (e * projection if projection else 0)
    macs = layers * (4 * tokens * e * e + 2 * tokens * tokens * e + 2 * tokens * e * 4 * e) \
        + (e * projection if projection else 0)
    return params, macs


def test_clip_vit_l14_text_encoder_parameters_and_macs():
    counts = count_network(build_network("sdxl_text_encoder"))
    assert (counts.params, counts.macs) == clip_text(768, 12, None)
    # HF CLIPTextModel of openai/clip-vit-large-patch14 (SDXL's text_encoder): 123,060,480 parameters
    assert counts.params == 123_060_480


def test_openclip_bigg14_text_encoder_parameters_and_macs():
    counts = count_network(build_network("sdxl_text_encoder_2"))
    assert (counts.params, counts.macs) == clip_text(1280, 32, 1280)
    # HF CLIPTextModelWithProjection of SDXL's text_encoder_2 (laion ViT-bigG/14): 694,659,840 parameters
    assert counts.params == 694_659_840


def test_clip_text_encoder_takes_shorter_prompts_and_refuses_more_than_its_context():
    assert count_network(build_network("sdxl_text_encoder", params={"seq_len": 20})).macs == \
        clip_text(768, 12, None, 20)[1]
    with pytest.raises(SimulatorError) as error:
        build_network("sdxl_text_encoder", params={"seq_len": 78})
    assert "\n" not in str(error.value) and "77" in str(error.value)


def test_quick_gelu_counts_a_scale_a_sigmoid_and_a_multiply():
    # x·σ(1.702·x): one multiply, σ = negate, exp, add, divide, one multiply
    cost = layer_cost(Activation("quick_gelu"), ((3, 4),), (3, 4))
    assert (cost.params, cost.macs, cost.elementwise_ops) == (0, 0, (1 + 4 + 1) * 12)


def conv(cin: int, cout: int, k: int, positions: int = 0) -> tuple[int, int]:
    return cin * cout * k * k + cout, positions * cin * cout * k * k


def resnet(cin: int, cout: int, n: int) -> tuple[int, int]:
    """ResnetBlock2D without a time embedding: norm1 (2·cin), conv1, norm2 (2·cout), conv2, 1×1 shortcut."""
    parts = [(2 * cin, 0), conv(cin, cout, 3, n), (2 * cout, 0), conv(cout, cout, 3, n)]
    if cin != cout:
        parts.append(conv(cin, cout, 1, n))
    return tuple(map(sum, zip(*parts, strict=True)))


def attention(c: int, n: int) -> tuple[int, int]:
    """One head over n positions: GroupNorm (2c), q, k, v, out with biases; 4·n·c² + 2·n²·c MACs."""
    return 2 * c + 4 * (c * c + c), 4 * n * c * c + 2 * n * n * c


def vae_decoder(latent_h: int, latent_w: int) -> tuple[int, int]:
    n = latent_h * latent_w
    top = VAE_CHANNELS[-1]
    parts = [conv(4, 4, 1, n), conv(4, top, 3, n),                    # post_quant_conv, conv_in
             resnet(top, top, n), attention(top, n), resnet(top, top, n)]  # the mid block
    cin = top
    for i, c in enumerate(reversed(VAE_CHANNELS)):
        for _ in range(2 + 1):                      # layers_per_block + 1 resnets
            parts.append(resnet(cin, c, n))
            cin = c
        if i < len(VAE_CHANNELS) - 1:
            n *= 4                                  # nearest ×2, then the conv at the new size
            parts.append(conv(c, c, 3, n))
    parts += [(2 * VAE_CHANNELS[0], 0), conv(VAE_CHANNELS[0], 3, 3, n)]
    return tuple(map(sum, zip(*parts, strict=True)))


def vae_encoder_params() -> int:
    """The encoder and quant_conv, for the AutoencoderKL's published total: conv_in 3 -> 128; per level 2
    resnets and a stride-2 conv (not the last); the mid block; GroupNorm, conv_out 512 -> 2·4; 1×1 8 -> 8."""
    total, cin = conv(3, VAE_CHANNELS[0], 3)[0], VAE_CHANNELS[0]
    for i, c in enumerate(VAE_CHANNELS):
        for _ in range(2):
            total += resnet(cin, c, 0)[0]
            cin = c
        if i < len(VAE_CHANNELS) - 1:
            total += conv(c, c, 3)[0]
    top = VAE_CHANNELS[-1]
    total += 2 * resnet(top, top, 0)[0] + attention(top, 0)[0] + 2 * top + conv(top, 8, 3)[0]
    return total + conv(8, 8, 1)[0]


def test_sdxl_vae_decoder_parameters_and_macs_from_the_config():
    counts = count_network(build_network("sdxl_vae_decoder"))
    assert (counts.params, counts.macs) == vae_decoder(128, 128)
    # diffusers' AutoencoderKL of SDXL (and SD 1.x, the same config): 83,653,863 parameters in all
    assert counts.params + vae_encoder_params() == 83_653_863


def test_sdxl_vae_decoder_scales_with_resolution_and_refuses_sizes_off_the_latent_grid():
    counts = count_network(build_network("sdxl_vae_decoder", (768, 1344)))
    assert (counts.params, counts.macs) == vae_decoder(96, 168)
    with pytest.raises(SimulatorError) as error:
        build_network("sdxl_vae_decoder", 1001)
    assert "\n" not in str(error.value) and "multiple of 8" in str(error.value)


def test_exported_text_encoders_and_decoder_read_back_the_same_counts_and_a_small_clip_runs():
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    import numpy as np

    from simulator.networks.sdxl_text_encoders import build_clip_text
    from simulator.onnx.reader import import_onnx
    from simulator.onnx.writer import to_onnx

    for network in (build_network("sdxl_text_encoder", params={"seq_len": 8}),
                    build_network("sdxl_text_encoder_2", params={"seq_len": 8}),
                    build_network("sdxl_vae_decoder", 64)):
        back, ours = count_network(import_onnx(to_onnx(network, weights=False))), count_network(network)
        assert (back.params, back.macs, back.flops) == (ours.params, ours.macs, ours.flops)
    # the same builder, narrow (width 64, 2 layers, QuickGELU, projection 32), with weights, in ONNX Runtime
    small = build_clip_text("small_clip", 64, 2, 4, "quick_gelu", 32, seq_len=8)
    session = ort.InferenceSession(to_onnx(small, batch=1).SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    hidden, pooled = session.run(None, {session.get_inputs()[0].name: np.arange(8, dtype=np.float32)[None]})
    assert hidden.shape == (1, 8, 64) and pooled.shape == (1, 32)
    assert np.isfinite(hidden).all() and np.isfinite(pooled).all()
