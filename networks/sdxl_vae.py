"""Stable Diffusion XL's VAE decoder, as MLPerf Inference's ``stable-diffusion-xl`` runs it once per image
after the last denoising step (``StableDiffusionXLPipeline``: ``vae.decode(latents / scaling_factor)``;
mlcommons/inference@024a17e87f00930b0f36c7d8734d09acb3a24f3b ``text_to_image/backend_pytorch.py``).

Reference: huggingface/diffusers@ba120269dc8feddb1e4a0272b5ee870f5f610da1
``src/diffusers/models/autoencoders/autoencoder_kl.py`` (``AutoencoderKL._decode``: ``post_quant_conv``
then ``decoder``) and huggingface/diffusers@04957c2003faa079d73e5a749655ccc0ba4bddbf
``src/diffusers/models/autoencoders/vae.py`` (``Decoder``), ``unets/unet_2d_blocks.py``
(``UNetMidBlock2D``, ``UpDecoderBlock2D``), ``resnet.py`` (``ResnetBlock2D`` without a time
embedding), ``upsampling.py`` (``Upsample2D``: nearest ×2, conv 3×3) and ``attention_processor.py``
(``Attention`` with ``norm_num_groups``, ``residual_connection``, ``bias=True``), with
stabilityai/stable-diffusion-xl-base-1.0's ``vae/config.json``: ``latent_channels`` 4,
``block_out_channels`` [128, 256, 512, 512], ``layers_per_block`` 2, ``norm_num_groups`` 32,
``out_channels`` 3, ``sample_size`` 1024.

Structure: ``post_quant_conv`` 1×1 4 -> 4; ``conv_in`` 3×3 4 -> 512; the mid block: resnet, attention
(GroupNorm, one head of 512 over the ``H/8 · W/8`` latent positions, q, k, v and out projections with
biases, residual add), resnet; four ``UpDecoderBlock2D`` at 512, 512, 256, 128 channels, each of
``layers_per_block + 1`` = 3 resnets, the first three ending in an upsampler (the map doubles: 1/8 ->
1/4 -> 1/2 -> the full image); GroupNorm -> SiLU -> ``conv_out`` 128 -> 3. A resnet: GroupNorm(32) ->
SiLU -> conv 3×3 -> GroupNorm -> SiLU -> conv 3×3, plus a 1×1 ``conv_shortcut`` where the channels
change (512 -> 256, 256 -> 128), and the residual add. ``output_scale_factor`` and
``rescale_output_factor`` are 1 (their divisions change nothing and are not counted).

Parameters 49,490,199 (the decoder and ``post_quant_conv``; with the encoder and ``quant_conv`` the
AutoencoderKL's 83,653,863; the tests derive both from this config).
"""

from __future__ import annotations

from simulator.errors import ShapeError
from simulator.model.graph import Network, NetworkBuilder
from simulator.model.registry import Resolution, height_width, register_network

#: the SDXL VAE's config (stabilityai/stable-diffusion-xl-base-1.0, ``vae/config.json``)
BLOCK_OUT_CHANNELS = (128, 256, 512, 512)
LAYERS_PER_BLOCK = 2
GROUPS = 32
LATENT_CHANNELS = 4
IMAGE_CHANNELS = 3
#: pixels per latent position: three 2× upsamplings
VAE_FACTOR = 2 ** (len(BLOCK_OUT_CHANNELS) - 1)
MLPERF_RESOLUTION = 1024


def _resnet(net: NetworkBuilder, x: str, out: int, p: str) -> str:
    """``ResnetBlock2D(in, out, temb_channels=None)``."""
    h = net.activation(net.group_norm(x, GROUPS, name=f"{p}.norm1"), "silu", name=f"{p}.act1")
    h = net.conv2d(h, out, 3, padding=1, name=f"{p}.conv1")
    h = net.activation(net.group_norm(h, GROUPS, name=f"{p}.norm2"), "silu", name=f"{p}.act2")
    h = net.conv2d(h, out, 3, padding=1, name=f"{p}.conv2")
    if net.shape(x)[0] != out:
        x = net.conv2d(x, out, 1, name=f"{p}.conv_shortcut")
    return net.add_(x, h, name=f"{p}.add")


def _attention(net: NetworkBuilder, x: str, p: str) -> str:
    """diffusers' ``Attention(C, heads=1, dim_head=C, norm_num_groups=32, residual_connection=True)``
    on the ``(C, H, W)`` map: GroupNorm, the ``H·W`` positions as tokens, one head, residual."""
    channels, height, width = net.shape(x)
    h = net.group_norm(x, GROUPS, name=f"{p}.group_norm")
    h = net.reshape(net.permute(h, (1, 2, 0), name=f"{p}.permute_in"), (height * width, channels),
                    name=f"{p}.tokens")
    h = net.self_attention(h, 1, name=f"{p}.attention")
    h = net.permute(net.reshape(h, (height, width, channels), name=f"{p}.grid"), (2, 0, 1),
                    name=f"{p}.permute_out")
    return net.add_(h, x, name=f"{p}.add")


def build_vae_decoder(name: str, resolution: Resolution) -> Network:
    """``AutoencoderKL.decode`` of a ``(4, H/8, W/8)`` latent into a ``(3, H, W)`` image of
    ``resolution`` pixels."""
    height, width = height_width(resolution)
    if height % VAE_FACTOR or width % VAE_FACTOR:
        raise ShapeError(f"resolution {height}x{width}: the SDXL VAE decoder's height and width must each be "
                         f"a multiple of {VAE_FACTOR} pixels (one latent position per {VAE_FACTOR}x"
                         f"{VAE_FACTOR} pixels); MLPerf uses {MLPERF_RESOLUTION}")
    net = NetworkBuilder(name, (LATENT_CHANNELS, height // VAE_FACTOR, width // VAE_FACTOR))
    x = net.conv2d(net.input, LATENT_CHANNELS, 1, name="post_quant_conv")
    x = net.conv2d(x, BLOCK_OUT_CHANNELS[-1], 3, padding=1, name="decoder.conv_in")
    x = _resnet(net, x, BLOCK_OUT_CHANNELS[-1], "decoder.mid_block.resnets.0")
    x = _attention(net, x, "decoder.mid_block.attentions.0")
    x = _resnet(net, x, BLOCK_OUT_CHANNELS[-1], "decoder.mid_block.resnets.1")
    last = len(BLOCK_OUT_CHANNELS) - 1
    for i, out in enumerate(reversed(BLOCK_OUT_CHANNELS)):
        p = f"decoder.up_blocks.{i}"
        for j in range(LAYERS_PER_BLOCK + 1):
            x = _resnet(net, x, out, f"{p}.resnets.{j}")
        if i < last:
            x = net.interpolate(x, scale_factor=2, mode="nearest", name=f"{p}.upsamplers.0.interpolate")
            x = net.conv2d(x, out, 3, padding=1, name=f"{p}.upsamplers.0.conv")
    x = net.activation(net.group_norm(x, GROUPS, name="decoder.conv_norm_out"), "silu",
                       name="decoder.conv_act")
    net.conv2d(x, IMAGE_CHANNELS, 3, padding=1, name="decoder.conv_out")
    return net.build()


@register_network
def sdxl_vae_decoder(resolution: Resolution = MLPERF_RESOLUTION) -> Network:
    """MLPerf Inference's ``stable-diffusion-xl``: the SDXL VAE decoder turning the final 128 × 128 latent
    into a 1024 × 1024 image (once per image, after the UNet's steps)."""
    return build_vae_decoder("sdxl_vae_decoder", resolution)
