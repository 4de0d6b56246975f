"""Segment Anything (Kirillov et al., ICCV 2023) image encoders ViT-B/L/H, as ``ImageEncoderViT``.

Reference: facebookresearch/segment-anything@dca509fe793f601edb92606367a655c15ac00fdf
``segment_anything/modeling/image_encoder.py`` (``ImageEncoderViT``, ``Block``, ``Attention``,
``window_partition``, ``add_decomposed_rel_pos``), ``segment_anything/modeling/common.py``
(``LayerNorm2d``) and ``segment_anything/build_sam.py`` (``_build_sam``: image 1024, patch 16,
MLP ratio 4, qkv bias, relative positions, window 14, neck 256 channels). Parameters of the image
encoder: 89,670,912 / 308,278,272 / 637,026,048 (ViT-B/L/H; ``sam_model_registry[v]().image_encoder``,
/work/research/segformer_sam_bert/reference_counts.json); the whole SAM (with prompt encoder and mask
decoder) is 4,064,560 more, published as 91M / 308M / 636M.

PatchEmbed (Conv2d 16×16, stride 16) to a ``(H/16, W/16, E)`` grid, learned absolute position
embedding, pre-norm blocks (LayerNorm → :class:`~simulator.model.layers.WindowedAttention` (window
14 with zero padding to a multiple of 14, or global in the blocks ``global_attn_indexes``) → residual
add → LayerNorm → MLP with GELU → residual add) and the neck: Conv 1×1 (no bias) → LayerNorm2d →
Conv 3×3 (no bias) → LayerNorm2d. Output: the image embedding ``(256, H/16, W/16)``.

SAM always runs at 1024×1024; at another ``resolution`` (``r`` or ``(H, W)``, each a multiple of 16)
the position embedding and the global blocks' relative-position tables are sized for the ``H/16 ×
W/16`` grid (a checkpoint would be interpolated to it), and windowed blocks pad each side of the grid
to a multiple of 14.
"""

from __future__ import annotations

from simulator.errors import ShapeError
from simulator.model.graph import Network, NetworkBuilder
from simulator.model.registry import Resolution, height_width, register_network
from simulator.networks.vit import resolution_text

PATCH_SIZE = 16
WINDOW_SIZE = 14
OUT_CHANNELS = 256
MLP_RATIO = 4


def sam_image_encoder(name: str, embed_dim: int, depth: int, num_heads: int,
                      global_attn_indexes: tuple[int, ...], resolution: Resolution = 1024) -> Network:
    """SAM ``ImageEncoderViT`` on ``H × W`` images."""
    height, width = height_width(resolution)
    if height % PATCH_SIZE or width % PATCH_SIZE:
        raise ShapeError(f"network {name!r}: resolution {resolution_text(resolution)} is not divisible by "
                         f"the patch size {PATCH_SIZE} (height and width must be multiples of {PATCH_SIZE})")
    grid_h, grid_w = height // PATCH_SIZE, width // PATCH_SIZE
    net = NetworkBuilder(name, (3, height, width))
    x = net.conv2d(net.input, embed_dim, PATCH_SIZE, stride=PATCH_SIZE, name="patch_embed.proj")
    x = net.permute(x, (1, 2, 0), name="patch_embed.permute")                 # (H, W, C)
    x = net.reshape(x, (grid_h * grid_w, embed_dim), name="pos_embed.flatten")
    x = net.positional_embedding(x, name="pos_embed")
    x = net.reshape(x, (grid_h, grid_w, embed_dim), name="pos_embed.unflatten")
    for b in range(depth):
        p = f"blocks.{b}"
        window = 0 if b in global_attn_indexes else WINDOW_SIZE
        y = net.layer_norm(x, name=f"{p}.norm1")
        y = net.windowed_attention(y, num_heads, window, name=f"{p}.attn")
        x = net.add_(x, y, name=f"{p}.add_1")
        y = net.layer_norm(x, name=f"{p}.norm2")
        y = net.linear(y, MLP_RATIO * embed_dim, name=f"{p}.mlp.lin1")
        y = net.gelu(y, name=f"{p}.mlp.act")
        y = net.linear(y, embed_dim, name=f"{p}.mlp.lin2")
        x = net.add_(x, y, name=f"{p}.add_2")
    x = net.permute(x, (2, 0, 1), name="neck.permute")                        # (C, H, W)
    x = net.conv2d(x, OUT_CHANNELS, 1, bias=False, name="neck.0")
    x = net.layer_norm2d(x, name="neck.1")
    x = net.conv2d(x, OUT_CHANNELS, 3, padding=1, bias=False, name="neck.2")
    net.layer_norm2d(x, name="neck.3")
    return net.build()


@register_network
def sam_vit_b(resolution: Resolution = 1024) -> Network:
    """ViT-B: embed 768, depth 12, 12 heads, global attention in blocks 2, 5, 8, 11."""
    return sam_image_encoder("sam_vit_b", 768, 12, 12, (2, 5, 8, 11), resolution)


@register_network
def sam_vit_l(resolution: Resolution = 1024) -> Network:
    """ViT-L: embed 1024, depth 24, 16 heads, global attention in blocks 5, 11, 17, 23."""
    return sam_image_encoder("sam_vit_l", 1024, 24, 16, (5, 11, 17, 23), resolution)


@register_network
def sam_vit_h(resolution: Resolution = 1024) -> Network:
    """ViT-H: embed 1280, depth 32, 16 heads, global attention in blocks 7, 15, 23, 31."""
    return sam_image_encoder("sam_vit_h", 1280, 32, 16, (7, 15, 23, 31), resolution)
