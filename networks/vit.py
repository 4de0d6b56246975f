"""Vision Transformer (Dosovitskiy et al., ICLR 2021), exactly as ``torchvision.models.vit_b_16``.

Patch embedding by a strided convolution, a learned class token and positional embedding,
pre-norm encoder blocks (LayerNorm, multi-head self-attention, residual add, LayerNorm, MLP with
GELU, residual add), a final LayerNorm and a linear head on the class token. Dropout is the
identity at inference and omitted. Parameter count matches torchvision (vit_b_16: 86,567,656).

At ``resolution`` ``(H, W)`` (each a multiple of the patch size ``p``) the encoder sees
``(H/p)·(W/p) + 1`` tokens, and the positional embedding has one row per token: ``((H/p)·(W/p) + 1)·E``
parameters. This is the model a checkpoint becomes at that size, its trained 14×14 grid resized to
the new one: as torchvision's SWAG weights at 384 and 512 ship it (vit_b_16 at 384: 86,859,496
parameters) and, for a non-square grid, as timm's ``resample_abs_pos_embed(posemb, new_size=(H/p,
W/p), num_prefix_tokens=1)`` does (torchvision's ``VisionTransformer`` itself takes square images only).
"""

from __future__ import annotations

from simulator.errors import ShapeError
from simulator.model.graph import Network, NetworkBuilder
from simulator.model.registry import Resolution, height_width, register_network


def vision_transformer(name: str, patch_size: int, num_layers: int, num_heads: int, hidden_dim: int,
                       mlp_dim: int, resolution: Resolution = 224, num_classes: int = 1000) -> Network:
    """A torchvision ``VisionTransformer`` for ``H × W`` images (``resolution``: ``r`` or ``(H, W)``)."""
    height, width = height_width(resolution)
    if height % patch_size or width % patch_size:
        raise ShapeError(f"network {name!r}: resolution {resolution_text(resolution)} is not divisible "
                         f"by the patch size {patch_size} (height and width must be multiples of it)")
    net = NetworkBuilder(name, (3, height, width))
    patches = (height // patch_size) * (width // patch_size)
    x = net.conv2d(net.input, hidden_dim, patch_size, stride=patch_size, name="conv_proj")
    x = net.reshape(x, (hidden_dim, patches), name="reshape")
    x = net.permute(x, (1, 0), name="permute")
    x = net.class_token(x, name="class_token")
    x = net.positional_embedding(x, name="encoder.pos_embedding")
    for layer in range(num_layers):
        prefix = f"encoder.layers.encoder_layer_{layer}"
        y = net.layer_norm(x, name=f"{prefix}.ln_1")
        y = net.self_attention(y, num_heads, name=f"{prefix}.self_attention")
        x = net.add_(y, x, name=f"{prefix}.add_1")
        y = net.layer_norm(x, name=f"{prefix}.ln_2")
        y = net.linear(y, mlp_dim, name=f"{prefix}.mlp.0")
        y = net.gelu(y, name=f"{prefix}.mlp.1")
        y = net.linear(y, hidden_dim, name=f"{prefix}.mlp.3")
        x = net.add_(x, y, name=f"{prefix}.add_2")
    x = net.layer_norm(x, name="encoder.ln")
    x = net.select_token(x, 0, name="class_token_out")
    net.linear(x, num_classes, name="heads.head")
    return net.build()


def resolution_text(resolution: Resolution) -> str:
    """``200`` or ``"224x200"``: a resolution as the user wrote it."""
    height, width = height_width(resolution)
    return str(resolution) if isinstance(resolution, int) else f"{height}x{width}"


@register_network
def vit_b_16(resolution: Resolution = 224, num_classes: int = 1000) -> Network:
    return vision_transformer("vit_b_16", 16, 12, 12, 768, 3072, resolution, num_classes)


@register_network
def vit_b_32(resolution: Resolution = 224, num_classes: int = 1000) -> Network:
    return vision_transformer("vit_b_32", 32, 12, 12, 768, 3072, resolution, num_classes)


@register_network
def vit_l_16(resolution: Resolution = 224, num_classes: int = 1000) -> Network:
    return vision_transformer("vit_l_16", 16, 24, 16, 1024, 4096, resolution, num_classes)


@register_network
def vit_l_32(resolution: Resolution = 224, num_classes: int = 1000) -> Network:
    return vision_transformer("vit_l_32", 32, 24, 16, 1024, 4096, resolution, num_classes)
