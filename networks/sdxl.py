"""Stable Diffusion XL's denoising UNet, one step, as MLPerf Inference's ``stable-diffusion-xl`` runs it.

MLPerf's reference (mlcommons/inference@024a17e87f00930b0f36c7d8734d09acb3a24f3b
``text_to_image/backend_pytorch.py``) runs diffusers' ``StableDiffusionXLPipeline`` of
stabilityai/stable-diffusion-xl-base-1.0 (20 steps, guidance 8). Reference: huggingface/diffusers
@00f354d14d00ed60cfce2ea7c5efceca2e4c4c3f ``src/diffusers/models/unets/unet_2d_condition.py``
(``UNet2DConditionModel``), ``unets/unet_2d_blocks.py`` (``DownBlock2D``, ``CrossAttnDownBlock2D``,
``UNetMidBlock2DCrossAttn``, ``CrossAttnUpBlock2D``, ``UpBlock2D``), ``resnet.py`` (``ResnetBlock2D``),
``downsampling.py``/``upsampling.py`` (``Downsample2D``: conv 3×3 stride 2; ``Upsample2D``: nearest ×2
then conv 3×3), ``transformers/transformer_2d.py`` (``Transformer2DModel``), ``attention.py``
(``BasicTransformerBlock``, ``FeedForward`` with ``GEGLU``), ``attention_processor.py`` (``Attention``),
``embeddings.py`` (``Timesteps``, ``TimestepEmbedding``), with stabilityai/stable-diffusion-xl-base-1.0's
``unet/config.json``: ``block_out_channels`` [320, 640, 1280], ``layers_per_block`` 2,
``down_block_types`` [DownBlock2D, CrossAttnDownBlock2D ×2], ``transformer_layers_per_block``
[1, 2, 10], ``attention_head_dim`` [5, 10, 20] (diffusers reads it as the number of heads: 64 per
head), ``cross_attention_dim`` 2048, ``addition_embed_type`` text_time, ``addition_time_embed_dim``
256, ``projection_class_embeddings_input_dim`` 2816, ``use_linear_projection`` true,
``norm_num_groups`` 32, ``sample_size`` 128 (a 1024 × 1024 image's 128 × 128 latent, 4 channels).

Structure: ``conv_in`` 4 -> 320; the time embedding (``time_proj`` sinusoids of 320 -> Linear 1280 ->
SiLU -> Linear 1280) plus the added embedding (``text_embeds`` 1280 and ``add_time_proj`` of the 6
size ids, 6·256, concatenated to 2816 -> Linear 1280 -> SiLU -> Linear 1280); down blocks at 320 (2
resnets, downsample), 640 (2 × (resnet, transformer of 2 blocks), downsample) and 1280 (2 × (resnet,
transformer of 10 blocks)); the mid block (resnet, transformer of 10, resnet); up blocks at 1280 and
640 (3 × (concat skip, resnet, transformer), upsample) and 320 (3 × (concat skip, resnet)); GroupNorm
-> SiLU -> ``conv_out`` 320 -> 4. A resnet: GroupNorm(32) -> SiLU -> conv 3×3 -> + Linear(SiLU(emb))
per channel -> GroupNorm -> SiLU -> conv 3×3, plus a 1×1 ``conv_shortcut`` when the channels change.
A transformer: GroupNorm -> ``proj_in`` Linear -> blocks of (LayerNorm, self-attention ``attn1``;
LayerNorm, cross-attention ``attn2`` on the 77 text tokens of 2048; LayerNorm, Linear ``C -> 8C``,
GEGLU, Linear ``4C -> C``), each with its residual -> ``proj_out`` -> + the input.

The text encoders' hidden states ``(77, 2048)``, the timestep's sinusoids ``(1, 320)`` and the added
conditioning ``(1, 2816)`` are conditioning inputs (:class:`~simulator.model.layers.ConditioningInput`):
their producers, the two CLIP text encoders and the sinusoidal projections, are not part of this
network (they are ``sdxl_text_encoder`` and ``sdxl_text_encoder_2``), and neither is the VAE decoder that
turns the final latent into the image (``sdxl_vae_decoder``).

Parameters 2,567,463,684 (diffusers' count of the SDXL base UNet; the tests derive it from this table).

Steps: the network is one denoising step, and it has no ``steps`` parameter (repeating the UNet in one
graph would count its weights ``N`` times). A generation of ``N`` steps costs ``N`` times the step: run it
and multiply its latency and energy by ``N`` (MLPerf's SDXL: 20 steps, :data:`MLPERF_STEPS`);
classifier-free guidance runs each step on 2 latents per image (``--batch 2`` per image).
"""

from __future__ import annotations

from simulator.errors import ShapeError
from simulator.model.graph import Network, NetworkBuilder
from simulator.model.registry import Resolution, height_width, register_network

#: the SDXL base UNet's config (stabilityai/stable-diffusion-xl-base-1.0, ``unet/config.json``)
BLOCK_OUT_CHANNELS = (320, 640, 1280)
TRANSFORMER_LAYERS = (1, 2, 10)  # transformer blocks per Transformer2DModel at each level (0: none)
HEADS = (5, 10, 20)  # ``attention_head_dim``, read by diffusers as the number of heads
LAYERS_PER_BLOCK = 2
GROUPS = 32
LATENT_CHANNELS = 4
TEXT_TOKENS, TEXT_DIM = 77, 2048  # CLIP's 77 tokens; the two text encoders' 768 + 1280 features
TIME_CHANNELS, TIME_EMBED = 320, 1280
ADDED_CONDITIONING = 1280 + 6 * 256  # pooled text embedding + 6 size/crop ids of 256 sinusoids
VAE_FACTOR = 8  # pixels per latent position
#: two stride-2 downsamplings in the latent: a side must be a multiple of 8·4 pixels
PIXEL_MULTIPLE = VAE_FACTOR * 2 ** (len(BLOCK_OUT_CHANNELS) - 1)
MLPERF_RESOLUTION = 1024
MLPERF_STEPS = 20


def _resnet(net: NetworkBuilder, x: str, out: int, emb: str, p: str) -> str:
    """``ResnetBlock2D(in, out, temb_channels=1280)``."""
    h = net.activation(net.group_norm(x, GROUPS, name=f"{p}.norm1"), "silu", name=f"{p}.act1")
    h = net.conv2d(h, out, 3, padding=1, name=f"{p}.conv1")
    t = net.linear(net.activation(emb, "silu", name=f"{p}.time_act"), out, name=f"{p}.time_emb_proj")
    h = net.add_(h, net.reshape(t, (out, 1, 1), name=f"{p}.time_view"), name=f"{p}.time_add")
    h = net.activation(net.group_norm(h, GROUPS, name=f"{p}.norm2"), "silu", name=f"{p}.act2")
    h = net.conv2d(h, out, 3, padding=1, name=f"{p}.conv2")
    if net.shape(x)[0] != out:
        x = net.conv2d(x, out, 1, name=f"{p}.conv_shortcut")
    return net.add_(x, h, name=f"{p}.add")


def _transformer(net: NetworkBuilder, x: str, heads: int, depth: int, context: str, p: str) -> str:
    """``Transformer2DModel`` with ``use_linear_projection``: ``depth`` ``BasicTransformerBlock``s."""
    channels, height, width = net.shape(x)
    h = net.group_norm(x, GROUPS, name=f"{p}.norm")
    h = net.reshape(net.permute(h, (1, 2, 0), name=f"{p}.permute_in"), (height * width, channels),
                    name=f"{p}.tokens")
    h = net.linear(h, channels, name=f"{p}.proj_in")
    for i in range(depth):
        b = f"{p}.transformer_blocks.{i}"
        a = net.self_attention_out_bias(net.layer_norm(h, name=f"{b}.norm1"), heads, name=f"{b}.attn1")
        h = net.add_(a, h, name=f"{b}.attn1.add")
        a = net.cross_attention(net.layer_norm(h, name=f"{b}.norm2"), context, heads, name=f"{b}.attn2")
        h = net.add_(a, h, name=f"{b}.attn2.add")
        f = net.linear(net.layer_norm(h, name=f"{b}.norm3"), 8 * channels, name=f"{b}.ff.net.0.proj")
        f = net.linear(net.geglu(f, name=f"{b}.ff.net.0"), channels, name=f"{b}.ff.net.2")
        h = net.add_(f, h, name=f"{b}.ff.add")
    h = net.linear(h, channels, name=f"{p}.proj_out")
    h = net.permute(net.reshape(h, (height, width, channels), name=f"{p}.grid"), (2, 0, 1),
                    name=f"{p}.permute_out")
    return net.add_(h, x, name=f"{p}.add")


def _embedding(net: NetworkBuilder, x: str, p: str) -> str:
    """``TimestepEmbedding``: Linear -> SiLU -> Linear, to 1280."""
    x = net.linear(x, TIME_EMBED, name=f"{p}.linear_1")
    return net.linear(net.activation(x, "silu", name=f"{p}.act"), TIME_EMBED, name=f"{p}.linear_2")


def build_sdxl_unet(name: str, resolution: Resolution) -> Network:
    """One denoising step of the SDXL base UNet for an image of ``resolution`` pixels (the latent is
    ``resolution / 8``). Output: the predicted noise ``(4, H/8, W/8)``."""
    height, width = height_width(resolution)
    if height % PIXEL_MULTIPLE or width % PIXEL_MULTIPLE:
        raise ShapeError(f"resolution {height}x{width}: SDXL's height and width must each be a multiple of "
                         f"{PIXEL_MULTIPLE} pixels (the VAE's 8 times the UNet's two 2x downsamplings); "
                         f"MLPerf uses {MLPERF_RESOLUTION}")
    net = NetworkBuilder(name, (LATENT_CHANNELS, height // VAE_FACTOR, width // VAE_FACTOR))
    context = net.conditioning_input((TEXT_TOKENS, TEXT_DIM), "encoder_hidden_states",
                                     name="encoder_hidden_states")
    t = net.conditioning_input((1, TIME_CHANNELS), "time_proj(timestep)", name="time_proj")
    added = net.conditioning_input((1, ADDED_CONDITIONING), "text_embeds + add_time_proj(time_ids)",
                                   name="add_time_proj")
    emb = net.add_(_embedding(net, t, "time_embedding"), _embedding(net, added, "add_embedding"), name="emb")

    x = net.conv2d(net.input, BLOCK_OUT_CHANNELS[0], 3, padding=1, name="conv_in")
    skips = [x]
    last = len(BLOCK_OUT_CHANNELS) - 1
    for level, (out, depth, heads) in enumerate(zip(BLOCK_OUT_CHANNELS, TRANSFORMER_LAYERS, HEADS,
                                                    strict=True)):
        p = f"down_blocks.{level}"
        for j in range(LAYERS_PER_BLOCK):
            x = _resnet(net, x, out, emb, f"{p}.resnets.{j}")
            if level:  # CrossAttnDownBlock2D
                x = _transformer(net, x, heads, depth, context, f"{p}.attentions.{j}")
            skips.append(x)
        if level < last:
            x = net.conv2d(x, out, 3, stride=2, padding=1, name=f"{p}.downsamplers.0.conv")
            skips.append(x)

    x = _resnet(net, x, BLOCK_OUT_CHANNELS[-1], emb, "mid_block.resnets.0")
    x = _transformer(net, x, HEADS[-1], TRANSFORMER_LAYERS[-1], context, "mid_block.attentions.0")
    x = _resnet(net, x, BLOCK_OUT_CHANNELS[-1], emb, "mid_block.resnets.1")

    for i, level in enumerate(reversed(range(len(BLOCK_OUT_CHANNELS)))):
        p = f"up_blocks.{i}"
        out, depth, heads = BLOCK_OUT_CHANNELS[level], TRANSFORMER_LAYERS[level], HEADS[level]
        for j in range(LAYERS_PER_BLOCK + 1):
            x = net.concat(x, skips.pop(), dim=0, name=f"{p}.cat.{j}")
            x = _resnet(net, x, out, emb, f"{p}.resnets.{j}")
            if level:  # CrossAttnUpBlock2D
                x = _transformer(net, x, heads, depth, context, f"{p}.attentions.{j}")
        if level:
            x = net.interpolate(x, scale_factor=2, mode="nearest", name=f"{p}.upsamplers.0.interpolate")
            x = net.conv2d(x, out, 3, padding=1, name=f"{p}.upsamplers.0.conv")

    x = net.activation(net.group_norm(x, GROUPS, name="conv_norm_out"), "silu", name="conv_act")
    net.conv2d(x, LATENT_CHANNELS, 3, padding=1, name="conv_out")
    return net.build()


@register_network
def sdxl_unet(resolution: Resolution = MLPERF_RESOLUTION) -> Network:
    """MLPerf Inference's ``stable-diffusion-xl``: one step of the SDXL base UNet at 1024 × 1024 pixels
    (a 128 × 128 latent); the text encoders and the VAE decoder are not included."""
    return build_sdxl_unet("sdxl_unet", resolution)
