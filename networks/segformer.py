"""SegFormer B0–B5 (Xie et al., NeurIPS 2021): Mix Transformer encoder and all-MLP decoder.

References: NVlabs/SegFormer@65fa8cfa9b52b6ee7e8897a98705abf8570f9e32
``mmseg/models/backbones/mix_transformer.py`` (``OverlapPatchEmbed``, ``Attention``, ``Mlp`` with
``DWConv``, ``Block``, ``mit_b0`` … ``mit_b5``), ``mmseg/models/decode_heads/segformer_head.py`` and
``local_configs/segformer/B*/segformer.b*.1024x1024.city.160k.py``; transformers 5.24.0
``transformers/models/segformer/modeling_segformer.py`` (``SegformerForSemanticSegmentation``), the
parameter reference: 3,719,027 / 13,682,131 / 27,361,235 / 47,237,075 / 64,007,635 / 84,607,955 with
19 Cityscapes classes (/work/research/segformer_sam_bert/reference_counts.json; mmseg's checkpoints
also hold an unused ``conv_seg``, 2,451 more, which the HF conversion deletes).

Encoder stage ``s``: overlapping patch embedding (Conv2d ``7×7/4`` then ``3×3/2``, padding ``k//2``)
→ tokens ``(N, C)`` → LayerNorm; ``depth`` pre-norm blocks: LayerNorm →
:class:`~simulator.model.layers.SpatialReductionAttention` (keys/values from a Conv2d with kernel =
stride = ``sr`` and a LayerNorm, ``sr`` = 8, 4, 2, 1) → residual add → LayerNorm → Mix-FFN (Linear
``C → 4C``, depthwise Conv 3×3, GELU, Linear ``4C → C``) → residual add; a stage LayerNorm and the
map ``(C, H, W)``. Decoder: per stage a Linear to ``D`` channels, bilinear resize to the 1/4 map (HF
also calls it on the 1/4 map itself: a same-size copy), concatenation ``[c4, c3, c2, c1]``, Conv 1×1
``4D → D`` (no bias) → BatchNorm → ReLU → classifier Conv 1×1. Output: logits ``(classes, H/4, W/4)``
(HF leaves the upsampling to the input size to the caller, mmseg to ``EncoderDecoder``).
"""

from __future__ import annotations

from simulator.model.graph import Network, NetworkBuilder
from simulator.model.registry import height_width, register_network

#: per size: hidden sizes of the four stages, blocks per stage, decoder channels ``D``
SEGFORMER_CONFIGS = {
    "b0": ((32, 64, 160, 256), (2, 2, 2, 2), 256),
    "b1": ((64, 128, 320, 512), (2, 2, 2, 2), 256),
    "b2": ((64, 128, 320, 512), (3, 4, 6, 3), 768),
    "b3": ((64, 128, 320, 512), (3, 4, 18, 3), 768),
    "b4": ((64, 128, 320, 512), (3, 8, 27, 3), 768),
    "b5": ((64, 128, 320, 512), (3, 6, 40, 3), 768),
}
HEADS = (1, 2, 5, 8)
SR_RATIOS = (8, 4, 2, 1)
PATCH = ((7, 4), (3, 2), (3, 2), (3, 2))  # (kernel, stride) per stage; padding kernel // 2
MLP_RATIO = 4
#: Cityscapes: 19 classes at 1024×2048 (the paper's Cityscapes FLOPs table)
CITYSCAPES = (1024, 2048), 19


def _to_tokens(net: NetworkBuilder, x: str, name: str) -> str:
    """``(C, H, W)`` → ``(H·W, C)`` (``flatten(2).transpose(1, 2)``)."""
    return net.permute(net.flatten(x, 1, 2, name=f"{name}.flatten"), (1, 0), name=f"{name}.transpose")


def _to_map(net: NetworkBuilder, x: str, c: int, h: int, w: int, name: str) -> str:
    """``(H·W, C)`` → ``(C, H, W)``."""
    return net.reshape(net.permute(x, (1, 0), name=f"{name}.transpose"), (c, h, w), name=f"{name}.reshape")


def segformer(name: str, hidden_sizes: tuple[int, ...], depths: tuple[int, ...], decoder_hidden_size: int,
              resolution: int | tuple[int, int] = CITYSCAPES[0], num_classes: int = CITYSCAPES[1]) -> Network:
    """HF ``SegformerForSemanticSegmentation`` on ``(3, H, W)``; logits ``(num_classes, H/4, W/4)``."""
    height, width = height_width(resolution)
    net = NetworkBuilder(name, (3, height, width))
    x, features = net.input, []
    for s, (c, depth) in enumerate(zip(hidden_sizes, depths, strict=True)):
        p = f"segformer.encoder.block.{s}"
        k, stride = PATCH[s]
        x = net.conv2d(x, c, k, stride=stride, padding=k // 2, name=f"{p}.patch_embeddings.proj")
        _, h, w = net.shape(x)
        x = net.layer_norm(_to_tokens(net, x, f"{p}.patch_embeddings"),
                           name=f"{p}.patch_embeddings.layer_norm")
        sr = SR_RATIOS[s]
        for b in range(depth):
            q = f"{p}.{b}"
            y = net.layer_norm(x, name=f"{q}.layer_norm_1")
            r = y
            if sr > 1:
                r = _to_map(net, y, c, h, w, f"{q}.attention.sr")
                r = net.conv2d(r, c, sr, stride=sr, name=f"{q}.attention.self.sr")
                r = net.layer_norm(_to_tokens(net, r, f"{q}.attention.sr_tokens"),
                                   name=f"{q}.attention.self.layer_norm")
            y = net.spatial_reduction_attention(y, r, HEADS[s], sr, name=f"{q}.attention")
            x = net.add_(y, x, name=f"{q}.add_1")
            y = net.layer_norm(x, name=f"{q}.layer_norm_2")
            y = net.linear(y, MLP_RATIO * c, name=f"{q}.mlp.dense1")
            y = _to_map(net, y, MLP_RATIO * c, h, w, f"{q}.mlp.to_map")
            y = net.conv2d(y, MLP_RATIO * c, 3, padding=1, groups=MLP_RATIO * c, name=f"{q}.mlp.dwconv")
            y = net.gelu(_to_tokens(net, y, f"{q}.mlp.to_tokens"), name=f"{q}.mlp.act")
            y = net.linear(y, c, name=f"{q}.mlp.dense2")
            x = net.add_(x, y, name=f"{q}.add_2")
        x = net.layer_norm(x, name=f"segformer.encoder.layer_norm.{s}")
        x = _to_map(net, x, c, h, w, f"{p}.out")
        features.append(x)
    d = decoder_hidden_size
    _, h1, w1 = net.shape(features[0])
    upsampled = []
    for s, f in enumerate(features):
        p = f"decode_head.linear_c.{s}"
        _, h, w = net.shape(f)
        y = net.linear(_to_tokens(net, f, p), d, name=f"{p}.proj")
        y = _to_map(net, y, d, h, w, f"{p}.out")
        upsampled.append(net.interpolate(y, (h1, w1), mode="bilinear", name=f"{p}.interpolate"))
    y = net.concat(*upsampled[::-1], dim=0, name="decode_head.concat")
    y = net.conv2d(y, d, 1, bias=False, name="decode_head.linear_fuse")
    y = net.batch_norm(y, name="decode_head.batch_norm")
    y = net.relu(y, inplace=True, name="decode_head.activation")
    net.conv2d(y, num_classes, 1, name="decode_head.classifier")
    return net.build()


def _register(size: str):
    hidden_sizes, depths, decoder = SEGFORMER_CONFIGS[size]

    def build(resolution: int | tuple[int, int] = CITYSCAPES[0], num_classes: int = CITYSCAPES[1]) -> Network:
        return segformer(f"segformer_{size}", hidden_sizes, depths, decoder, resolution, num_classes)

    build.__name__ = build.__qualname__ = f"segformer_{size}"
    build.__doc__ = (f"SegFormer-{size.upper()}: hidden sizes {hidden_sizes}, depths {depths}, "
                     f"decoder {decoder} "
                     f"(default: Cityscapes, 19 classes at 1024×2048).")
    return register_network(build)


segformer_b0, segformer_b1, segformer_b2, segformer_b3, segformer_b4, segformer_b5 = (
    _register(size) for size in SEGFORMER_CONFIGS)
