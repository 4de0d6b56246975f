"""SegNeXt-T/S/B/L (Guo et al., NeurIPS 2022): MSCAN encoder and LightHamHead decoder, as mmsegmentation
defines it.

References: open-mmlab/mmsegmentation@319dbda18c58073efd92c4a9f53e0e30e66e3edb
``mmseg/models/backbones/mscan.py`` (``StemConv``, ``OverlapPatchEmbed``, ``AttentionModule``,
``SpatialAttention``, ``Block``, ``Mlp`` with ``DWConv``, ``MSCAN``),
@267d54767a618c0ee7f901827c1840e1811267c7 ``mmseg/models/decode_heads/ham_head.py`` (``LightHamHead``,
``Hamburger``, ``NMF2D``) and the configs
``configs/segnext/segnext_mscan-{t,s,b,l}_1xb16-adamw-160k_ade20k-512x512.py``; the Cityscapes configs
Visual-Attention-Network/SegNeXt@f58133cf42d51b01a943fc9f1a82468bcc7ceb09
``local_configs/segnext/{tiny,small,base,large}/segnext.*.1024x1024.city.160k.py`` (19 classes; T and S
``ham_kwargs=dict(MD_R=16)``, B and L the default ``MD_R=64``; ``eval_steps=7``, ``MD_S=1``). Published
sizes (SegNeXt paper, Table 3/4, and the official README): 4.3M / 13.9M / 27.6M / 48.9M parameters.

Encoder: stage 1 ``StemConv`` (Conv 3×3/2 ``3 → C/2``, BN, GELU, Conv 3×3/2 ``C/2 → C``, BN), stages
2–4 ``OverlapPatchEmbed`` (Conv 3×3/2, padding 1, BN); ``depth`` blocks per stage: BN →
``SpatialAttention`` (Conv 1×1, GELU, ``AttentionModule``: depthwise 5×5, three branches of depthwise
``1×k`` then ``k×1`` for ``k`` = 7, 11, 21, the sum of the 5×5 output and the three branches, Conv
1×1, times the module's input; Conv 1×1, plus its input) → per-channel layer scale → residual add;
BN → ``Mlp`` (Conv 1×1 ``C → rC``, depthwise 3×3, GELU, Conv 1×1 ``rC → C``) → layer scale →
residual add; a stage LayerNorm over the channels (here :class:`LayerNorm2d` on the map, the same
normalization and 2C parameters). Decoder (stages 2–4, ``in_index=[1, 2, 3]``): bilinear resize of each
to the 1/8 map (mmseg's ``resize`` also runs on the 1/8 map itself), concatenation, ``squeeze``
ConvModule 1×1 (no bias, GroupNorm 32, ReLU), ``Hamburger`` (Conv 1×1 with bias, ReLU, NMF2D, Conv 1×1
no bias + GroupNorm 32, residual add, ReLU), ``align`` ConvModule 1×1 (no bias, GN 32, ReLU), the
classifier Conv 1×1 (``cls_seg``, dropout is an identity in inference), then ``EncoderDecoder``'s
bilinear resize of the logits to the input size. Output ``(num_classes, H, W)``.
"""

from __future__ import annotations

from simulator.model.graph import Network, NetworkBuilder
from simulator.model.registry import height_width, register_network

#: per size: stage widths, MLP ratios, blocks per stage, head ``channels`` (= ``ham_channels``), NMF rank
SEGNEXT_CONFIGS = {
    "t": ((32, 64, 160, 256), (8, 8, 4, 4), (3, 3, 5, 2), 256, 16),
    "s": ((64, 128, 320, 512), (8, 8, 4, 4), (2, 2, 4, 2), 256, 16),
    "b": ((64, 128, 320, 512), (8, 8, 4, 4), (3, 3, 12, 3), 512, 64),
    "l": ((64, 128, 320, 512), (8, 8, 4, 4), (3, 5, 27, 3), 1024, 64),
}
#: ``AttentionModule`` strip kernels ``1×k``/``k×1`` after the 5×5 depthwise convolution
STRIP_KERNELS = (7, 11, 21)
#: NMF2D multiplicative-update iterations in evaluation (``eval_steps``)
NMF_EVAL_STEPS = 7
GROUP_NORM_GROUPS = 32
#: Cityscapes: 19 classes at 1024×2048 (the paper's Cityscapes FLOPs at 2048×1024)
CITYSCAPES = (1024, 2048), 19


def _block(net: NetworkBuilder, x: str, c: int, mlp_ratio: int, p: str) -> str:
    """One MSCAN ``Block`` on the ``(C, H, W)`` map ``x``."""
    y = net.batch_norm(x, name=f"{p}.norm1")
    y = net.gelu(net.conv2d(y, c, 1, name=f"{p}.attn.proj_1"), name=f"{p}.attn.activation")
    u, g = y, f"{p}.attn.spatial_gating_unit"
    a = net.conv2d(y, c, 5, padding=2, groups=c, name=f"{g}.conv0")
    branches = []
    for i, k in enumerate(STRIP_KERNELS):
        b = net.conv2d(a, c, (1, k), padding=(0, k // 2), groups=c, name=f"{g}.conv{i}_1")
        branches.append(net.conv2d(b, c, (k, 1), padding=(k // 2, 0), groups=c, name=f"{g}.conv{i}_2"))
    a = net.add_(a, *branches, name=f"{g}.sum")
    a = net.mul(net.conv2d(a, c, 1, name=f"{g}.conv3"), u, name=f"{g}.gate")
    y = net.add_(net.conv2d(a, c, 1, name=f"{p}.attn.proj_2"), y, name=f"{p}.attn.shortcut")
    x = net.add_(x, net.layer_scale(y, name=f"{p}.layer_scale_1"), name=f"{p}.add_1")
    y = net.batch_norm(x, name=f"{p}.norm2")
    hidden = c * mlp_ratio
    y = net.conv2d(y, hidden, 1, name=f"{p}.mlp.fc1")
    y = net.conv2d(y, hidden, 3, padding=1, groups=hidden, name=f"{p}.mlp.dwconv.dwconv")
    y = net.conv2d(net.gelu(y, name=f"{p}.mlp.act"), c, 1, name=f"{p}.mlp.fc2")
    return net.add_(x, net.layer_scale(y, name=f"{p}.layer_scale_2"), name=f"{p}.add_2")


def _conv_module(net: NetworkBuilder, x: str, channels: int, name: str, relu: bool = True) -> str:
    """mmcv ``ConvModule`` 1×1 with GroupNorm 32 (no conv bias) and ReLU unless ``relu`` is False."""
    y = net.group_norm(net.conv2d(x, channels, 1, bias=False, name=f"{name}.conv"), GROUP_NORM_GROUPS,
                       name=f"{name}.gn")
    return net.relu(y, inplace=True, name=f"{name}.activate") if relu else y


def segnext(name: str, embed_dims: tuple[int, ...], mlp_ratios: tuple[int, ...], depths: tuple[int, ...],
            channels: int, nmf_rank: int, resolution: int | tuple[int, int] = CITYSCAPES[0],
            num_classes: int = CITYSCAPES[1], nmf_steps: int = NMF_EVAL_STEPS) -> Network:
    """mmseg ``EncoderDecoder`` (MSCAN + LightHamHead) on ``(3, H, W)``; logits ``(num_classes, H, W)``."""
    height, width = height_width(resolution)
    net = NetworkBuilder(name, (3, height, width))
    x, features = net.input, []
    for s, (c, ratio, depth) in enumerate(zip(embed_dims, mlp_ratios, depths, strict=True)):
        p = f"backbone.patch_embed{s + 1}"
        if s == 0:
            x = net.conv2d(x, c // 2, 3, stride=2, padding=1, name=f"{p}.proj.0")
            x = net.gelu(net.batch_norm(x, name=f"{p}.proj.1"), name=f"{p}.proj.2")
            x = net.conv2d(x, c, 3, stride=2, padding=1, name=f"{p}.proj.3")
            x = net.batch_norm(x, name=f"{p}.proj.4")
        else:
            x = net.batch_norm(net.conv2d(x, c, 3, stride=2, padding=1, name=f"{p}.proj"), name=f"{p}.norm")
        for b in range(depth):
            x = _block(net, x, c, ratio, f"backbone.block{s + 1}.{b}")
        x = net.layer_norm2d(x, name=f"backbone.norm{s + 1}")
        features.append(x)
    _, h, w = net.shape(features[1])
    levels = [net.interpolate(f, (h, w), mode="bilinear", name=f"decode_head.resize{i + 1}")
              for i, f in enumerate(features) if i >= 1]
    y = _conv_module(net, net.concat(*levels, dim=0, name="decode_head.concat"), channels,
                     "decode_head.squeeze")
    enjoy = net.relu(net.conv2d(y, channels, 1, name="decode_head.hamburger.ham_in.conv"), inplace=True,
                     name="decode_head.hamburger.relu")
    enjoy = net.nmf2d(enjoy, nmf_rank, nmf_steps, name="decode_head.hamburger.ham")
    enjoy = _conv_module(net, enjoy, channels, "decode_head.hamburger.ham_out", relu=False)
    y = net.relu(net.add_(y, enjoy, name="decode_head.hamburger.add"), inplace=True,
                 name="decode_head.hamburger.out_relu")
    y = _conv_module(net, y, channels, "decode_head.align")
    y = net.conv2d(y, num_classes, 1, name="decode_head.conv_seg")
    net.interpolate(y, (height, width), mode="bilinear", name="resize_to_input")
    return net.build()


def _register(size: str):
    embed_dims, mlp_ratios, depths, channels, rank = SEGNEXT_CONFIGS[size]

    def build(resolution: int | tuple[int, int] = CITYSCAPES[0], num_classes: int = CITYSCAPES[1],
              nmf_steps: int = NMF_EVAL_STEPS) -> Network:
        return segnext(f"segnext_{size}", embed_dims, mlp_ratios, depths, channels, rank, resolution,
                       num_classes, nmf_steps)

    build.__name__ = build.__qualname__ = f"segnext_{size}"
    build.__doc__ = (f"SegNeXt-{size.upper()} (MSCAN-{size.upper()}): widths {embed_dims}, depths {depths}, "
                     f"head channels {channels}, NMF rank {rank}, {NMF_EVAL_STEPS} steps "
                     f"(default: Cityscapes, 19 classes at 1024×2048).")
    return register_network(build)


segnext_t, segnext_s, segnext_b, segnext_l = (_register(size) for size in SEGNEXT_CONFIGS)
