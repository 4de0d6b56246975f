"""Vision Transformer (Dosovitskiy et al., ICLR 2021), exactly as ``torchvision.models.vit_b_16``.

Patch embedding by a strided convolution, a learned class token and positional embedding,
pre-norm encoder blocks (LayerNorm, multi-head self-attention, residual add, LayerNorm, MLP with
GELU, residual add), a final LayerNorm and a linear head on the class token. Dropout is the
identity at inference and omitted. Parameter count matches torchvision (vit_b_16: 86,567,656).
"""

from __future__ import annotations

from simulator.errors import ShapeError
from simulator.model.graph import Network, NetworkBuilder
from simulator.model.registry import register_network


def vision_transformer(name: str, patch_size: int, num_layers: int, num_heads: int, hidden_dim: int,
                       mlp_dim: int, resolution: int = 224, num_classes: int = 1000) -> Network:
    """A torchvision ``VisionTransformer`` for ``resolution × resolution`` images."""
    if resolution % patch_size:
        raise ShapeError(f"network {name!r}: resolution {resolution} is not divisible by the patch size "
                         f"{patch_size}")
    net = NetworkBuilder(name, (3, resolution, resolution))
    patches = (resolution // patch_size) ** 2
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


@register_network
def vit_b_16(resolution: int = 224, num_classes: int = 1000) -> Network:
    return vision_transformer("vit_b_16", 16, 12, 12, 768, 3072, resolution, num_classes)


@register_network
def vit_b_32(resolution: int = 224, num_classes: int = 1000) -> Network:
    return vision_transformer("vit_b_32", 32, 12, 12, 768, 3072, resolution, num_classes)


@register_network
def vit_l_16(resolution: int = 224, num_classes: int = 1000) -> Network:
    return vision_transformer("vit_l_16", 16, 24, 16, 1024, 4096, resolution, num_classes)


@register_network
def vit_l_32(resolution: int = 224, num_classes: int = 1000) -> Network:
    return vision_transformer("vit_l_32", 32, 24, 16, 1024, 4096, resolution, num_classes)
