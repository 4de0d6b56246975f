"""EfficientViT (Cai et al., ICCV 2023): building blocks, backbones and ImageNet classifiers.

Follows mit-han-lab/efficientvit@de7d7733cc0329f391b33f1f459271562ec27bd5
(``efficientvit/models/nn/ops.py`` ConvLayer, DSConv, MBConv, FusedMBConv, ResBlock, LiteMLA,
EfficientViTBlock; ``efficientvit/models/efficientvit/backbone.py`` EfficientViTBackbone (B) and
EfficientViTLargeBackbone (L); ``cls.py`` ClsHead) and timm 1.0.31 ``timm/models/efficientvit_mit.py``
(the same classifiers, same params and MACs; its LiteMLA has no quadratic fallback and eps 1e-5).
Parameter counts equal timm's to the unit (efficientvit_b1: 9,102,024). Segmentation:
:mod:`simulator.networks.efficientvit_seg`; SAM image encoders: :mod:`simulator.networks.efficientvit_sam`.

Activations: "hswish" is Hardswish; efficientvit's "gelu" is ``nn.GELU(approximate="tanh")``
(``nn/act.py``), here ``gelu_tanh``. LiteMLA's attention core is
:class:`~simulator.model.layers.ReLULinearAttention`.
"""

from __future__ import annotations

from simulator.model.graph import Network, NetworkBuilder
from simulator.model.registry import height_width, register_network

ACTIVATIONS = {"hswish": "hardswish", "gelu": "gelu_tanh", "relu": "relu", "relu6": "relu6", "silu": "silu"}


def _triple(value, n: int) -> tuple:
    return tuple(value) if isinstance(value, (tuple, list)) else (value,) * n


def conv_layer(net: NetworkBuilder, x: str, out_channels: int, kernel_size: int = 3, stride: int = 1,
               groups: int = 1, bias: bool = False, norm: str | None = "bn2d", act: str | None = "relu",
               prefix: str = "conv") -> str:
    """ConvLayer (ops.py l.37): Conv2d (padding k//2) -> BatchNorm2d (``norm="bn2d"``) -> activation."""
    x = net.conv2d(x, out_channels, kernel_size, stride=stride, padding=kernel_size // 2, groups=groups,
                   bias=bias, name=f"{prefix}.conv")
    if norm == "bn2d":
        x = net.batch_norm(x, name=f"{prefix}.norm")
    elif norm is not None:
        raise ValueError(f"norm {norm!r} is not one of 'bn2d', None")
    return x if act is None else net.activation(x, ACTIVATIONS[act], name=f"{prefix}.act")


def ds_conv(net, x, out_channels, stride=1, bias=False, norm="bn2d", act=("relu6", None), prefix="dsconv"):
    """DSConv (ops.py l.270): depthwise k×k then pointwise 1×1."""
    bias, norm, act = _triple(bias, 2), _triple(norm, 2), _triple(act, 2)
    c = net.shape(x)[0]
    x = conv_layer(net, x, c, 3, stride, c, bias[0], norm[0], act[0], f"{prefix}.depth_conv")
    return conv_layer(net, x, out_channels, 1, 1, 1, bias[1], norm[1], act[1], f"{prefix}.point_conv")


def mb_conv(net, x, out_channels, stride=1, expand_ratio=6.0, bias=False, norm="bn2d",
            act=("relu6", "relu6", None), prefix="mbconv"):
    """MBConv (ops.py l.312): 1×1 expand to ``round(in·expand)``, depthwise 3×3 (stride), 1×1 project."""
    bias, norm, act = _triple(bias, 3), _triple(norm, 3), _triple(act, 3)
    mid = round(net.shape(x)[0] * expand_ratio)
    x = conv_layer(net, x, mid, 1, 1, 1, bias[0], norm[0], act[0], f"{prefix}.inverted_conv")
    x = conv_layer(net, x, mid, 3, stride, mid, bias[1], norm[1], act[1], f"{prefix}.depth_conv")
    return conv_layer(net, x, out_channels, 1, 1, 1, bias[2], norm[2], act[2], f"{prefix}.point_conv")


def fused_mb_conv(net, x, out_channels, stride=1, expand_ratio=6.0, bias=False, norm="bn2d",
                  act=("relu6", None), prefix="fmbconv"):
    """FusedMBConv (ops.py l.367): 3×3 (stride) to ``round(in·expand)``, 1×1 project."""
    bias, norm, act = _triple(bias, 2), _triple(norm, 2), _triple(act, 2)
    mid = round(net.shape(x)[0] * expand_ratio)
    x = conv_layer(net, x, mid, 3, stride, 1, bias[0], norm[0], act[0], f"{prefix}.spatial_conv")
    return conv_layer(net, x, out_channels, 1, 1, 1, bias[1], norm[1], act[1], f"{prefix}.point_conv")


def res_block(net, x, out_channels, stride=1, expand_ratio=1.0, bias=False, norm="bn2d",
              act=("relu6", None), prefix="resblock"):
    """ResBlock (ops.py l.473): 3×3 (stride) to ``round(in·expand)``, 3×3."""
    bias, norm, act = _triple(bias, 2), _triple(norm, 2), _triple(act, 2)
    mid = round(net.shape(x)[0] * expand_ratio)
    x = conv_layer(net, x, mid, 3, stride, 1, bias[0], norm[0], act[0], f"{prefix}.conv1")
    return conv_layer(net, x, out_channels, 3, 1, 1, bias[1], norm[1], act[1], f"{prefix}.conv2")


def lite_mla(net, x, dim, scales=(5,), quadratic_fallback=True, prefix="attn"):
    """LiteMLA (ops.py l.518) as EfficientViTBlock builds it: heads ``C // dim``; qkv 1×1 (no bias,
    norm, act); per scale a depthwise k×k and a 1×1 grouped by ``3·heads``; concat; ReLU linear
    attention over ``heads·(1 + len(scales))`` groups; projection 1×1 + BatchNorm."""
    c = net.shape(x)[0]
    heads = c // dim
    total = heads * dim
    qkv = conv_layer(net, x, 3 * total, 1, norm=None, act=None, prefix=f"{prefix}.qkv")
    branches = [qkv]
    for i, k in enumerate(scales):
        y = net.conv2d(qkv, 3 * total, k, padding=k // 2, groups=3 * total, bias=False,
                       name=f"{prefix}.aggreg.{i}.0")
        branches.append(net.conv2d(y, 3 * total, 1, groups=3 * heads, bias=False,
                                   name=f"{prefix}.aggreg.{i}.1"))
    multi_scale = net.concat(*branches, dim=0, name=f"{prefix}.cat")
    out = net.relu_linear_attention(multi_scale, dim, quadratic_fallback=quadratic_fallback,
                                    name=f"{prefix}.relu_linear_att")
    return conv_layer(net, out, c, 1, act=None, prefix=f"{prefix}.proj")


def efficientvit_block(net, x, dim, expand_ratio, scales=(5,), act="hswish", quadratic_fallback=True,
                       prefix="block"):
    """EfficientViTBlock (ops.py l.671): ``x + LiteMLA(x)``, then ``x + MBConv(x)`` (bias (T, T, F),
    norm (None, None, BN), act (act, act, None))."""
    y = lite_mla(net, x, dim, scales, quadratic_fallback, f"{prefix}.context_module.main")
    x = net.add_(y, x, name=f"{prefix}.context_module.add")
    y = mb_conv(net, x, net.shape(x)[0], 1, expand_ratio, (True, True, False), (None, None, "bn2d"),
                (act, act, None), f"{prefix}.local_module.main")
    return net.add_(y, x, name=f"{prefix}.local_module.add")


#: backbone.py l.159-196: width_list, depth_list, head dim
B_CONFIGS = {
    "b0": ((8, 16, 32, 64, 128), (1, 2, 2, 2, 2), 16),
    "b1": ((16, 32, 64, 128, 256), (1, 2, 3, 3, 4), 16),
    "b2": ((24, 48, 96, 192, 384), (1, 3, 4, 4, 6), 32),
    "b3": ((32, 64, 128, 256, 512), (1, 4, 6, 6, 9), 32),
}
_L_BLOCKS = dict(blocks=("res", "fmb", "fmb", "mb", "att"), expands=(1, 4, 4, 4, 6),
                 fewer_norm=(False, False, False, True, True))
_XL_BLOCKS = dict(blocks=("res", "fmb", "fmb", "fmb", "att@3", "att@3"), expands=(1, 4, 4, 4, 4, 6),
                  fewer_norm=(False, False, False, False, True, True))
#: backbone.py l.341-375 (l0-l3); sam.py l.635, l.660 (xl0, xl1)
L_CONFIGS = {
    "l0": dict(widths=(32, 64, 128, 256, 512), depths=(1, 1, 1, 4, 4), **_L_BLOCKS),
    "l1": dict(widths=(32, 64, 128, 256, 512), depths=(1, 1, 1, 6, 6), **_L_BLOCKS),
    "l2": dict(widths=(32, 64, 128, 256, 512), depths=(1, 2, 2, 8, 8), **_L_BLOCKS),
    "l3": dict(widths=(64, 128, 256, 512, 1024), depths=(1, 2, 2, 8, 8), **_L_BLOCKS),
    "xl0": dict(widths=(32, 64, 128, 256, 512, 1024), depths=(0, 1, 1, 2, 3, 3), **_XL_BLOCKS),
    "xl1": dict(widths=(32, 64, 128, 256, 512, 1024), depths=(1, 2, 2, 4, 6, 6), **_XL_BLOCKS),
}


def backbone_b(net: NetworkBuilder, variant: str, quadratic_fallback: bool = True) -> dict[str, str]:
    """EfficientViTBackbone (backbone.py l.33), Hardswish; the stage outputs ``stage0`` .. ``stage4``."""
    widths, depths, dim = B_CONFIGS[variant]
    act = "hswish"
    x = conv_layer(net, net.input, widths[0], 3, 2, act=act, prefix="backbone.input_stem.op_list.0")
    for i in range(depths[0]):
        p = f"backbone.input_stem.op_list.{i + 1}"
        y = ds_conv(net, x, widths[0], 1, False, "bn2d", (act, None), f"{p}.main")
        x = net.add_(y, x, name=f"{p}.add")
    out = {"stage0": x}
    for s in (1, 2):
        for i in range(depths[s]):
            p, stride = f"backbone.stages.{s - 1}.op_list.{i}", 2 if i == 0 else 1
            y = mb_conv(net, x, widths[s], stride, 4, False, "bn2d", (act, act, None), f"{p}.main")
            x = net.add_(y, x, name=f"{p}.add") if stride == 1 else y
        out[f"stage{s}"] = x
    for s in (3, 4):
        p = f"backbone.stages.{s - 1}.op_list"
        x = mb_conv(net, x, widths[s], 2, 4, (True, True, False), (None, None, "bn2d"), (act, act, None),
                    f"{p}.0.main")
        for i in range(depths[s]):
            x = efficientvit_block(net, x, dim, 4, (5,), act, quadratic_fallback, f"{p}.{i + 1}")
        out[f"stage{s}"] = x
    return out


def _local_block(net, x, block, out_channels, stride, expand, act, fewer_norm, prefix):
    if block == "mb":
        return mb_conv(net, x, out_channels, stride, expand, (True, True, False) if fewer_norm else False,
                       (None, None, "bn2d") if fewer_norm else "bn2d", (act, act, None), prefix)
    make = {"res": res_block, "fmb": fused_mb_conv}[block]
    return make(net, x, out_channels, stride, expand, (True, False) if fewer_norm else False,
                (None, "bn2d") if fewer_norm else "bn2d", (act, None), prefix)


def backbone_l(net: NetworkBuilder, variant: str, quadratic_fallback: bool = True) -> dict[str, str]:
    """EfficientViTLargeBackbone (backbone.py l.199), GELU-tanh, head dim 32; ``stage0`` .. last stage.

    Each stage s >= 1 starts with a stride-2 block (its own kind if mb/fmb, else mb) of expansion
    ``4·expand_list[s]`` and no residual, then ``depth[s]`` residual blocks or EfficientViTBlocks."""
    cfg = L_CONFIGS[variant]
    widths, depths, blocks, expands, fewer = (cfg[k] for k in ("widths", "depths", "blocks", "expands",
                                                               "fewer_norm"))
    act = "gelu"
    x = conv_layer(net, net.input, widths[0], 3, 2, act=act, prefix="backbone.stages.0.op_list.0")
    for i in range(depths[0]):
        p = f"backbone.stages.0.op_list.{i + 1}"
        y = _local_block(net, x, blocks[0], widths[0], 1, expands[0], act, fewer[0], f"{p}.main")
        x = net.add_(y, x, name=f"{p}.add")
    out = {"stage0": x}
    for s in range(1, len(widths)):
        p = f"backbone.stages.{s}.op_list"
        down = blocks[s] if blocks[s] in ("mb", "fmb") else "mb"
        x = _local_block(net, x, down, widths[s], 2, expands[s] * 4, act, fewer[s], f"{p}.0.main")
        for i in range(1, depths[s] + 1):
            if blocks[s].startswith("att"):
                scales = (3,) if blocks[s] == "att@3" else (5,)
                x = efficientvit_block(net, x, 32, expands[s], scales, act, quadratic_fallback, f"{p}.{i}")
            else:
                y = _local_block(net, x, blocks[s], widths[s], 1, expands[s], act, fewer[s], f"{p}.{i}.main")
                x = net.add_(y, x, name=f"{p}.{i}.add")
        out[f"stage{s}"] = x
    return out


#: ClsHead width_list (cls.py l.60-160); l0 has no published classifier: L1's head is assumed
CLS_HEADS = {"b0": (1024, 1280), "b1": (1536, 1600), "b2": (2304, 2560), "b3": (2304, 2560),
             "l0": (3072, 3200), "l1": (3072, 3200), "l2": (3072, 3200), "l3": (6144, 6400)}


def _classifier(variant: str, resolution: int | tuple[int, int], num_classes: int) -> Network:
    """Backbone + ClsHead (cls.py l.22; timm ClassifierHead): 1×1 ConvLayer (BN, act), global average
    pool, Linear (no bias), LayerNorm, act, Linear. timm's LiteMLA: no quadratic fallback, eps 1e-5."""
    net = NetworkBuilder(f"efficientvit_{variant}", (3, *height_width(resolution)))
    if variant.startswith("b"):
        act, x = "hswish", backbone_b(net, variant, quadratic_fallback=False)["stage4"]
    else:
        act, x = "gelu", backbone_l(net, variant, quadratic_fallback=False)["stage4"]
    w0, w1 = CLS_HEADS[variant]
    x = conv_layer(net, x, w0, 1, act=act, prefix="head.in_conv")
    x = net.flatten(net.adaptive_avg_pool2d(x, 1, name="head.global_pool"), name="head.flatten")
    x = net.layer_norm(net.linear(x, w1, bias=False, name="head.classifier.0"), name="head.classifier.1")
    x = net.activation(x, ACTIVATIONS[act], name="head.classifier.2")
    net.linear(x, num_classes, name="head.classifier.4")
    return net.build()


@register_network
def efficientvit_b0(resolution: int | tuple[int, int] = 224, num_classes: int = 1000) -> Network:
    """EfficientViT-B0 (timm ``efficientvit_b0``; cls.py ``efficientvit_cls_b0``): 3,410,008 params."""
    return _classifier("b0", resolution, num_classes)


@register_network
def efficientvit_b1(resolution: int | tuple[int, int] = 224, num_classes: int = 1000) -> Network:
    """EfficientViT-B1 (timm ``efficientvit_b1``): 9,102,024 params, 0.52 GMACs at 224."""
    return _classifier("b1", resolution, num_classes)


@register_network
def efficientvit_b2(resolution: int | tuple[int, int] = 224, num_classes: int = 1000) -> Network:
    """EfficientViT-B2 (timm ``efficientvit_b2``): 24,330,712 params, 1.6 GMACs at 224."""
    return _classifier("b2", resolution, num_classes)


@register_network
def efficientvit_b3(resolution: int | tuple[int, int] = 224, num_classes: int = 1000) -> Network:
    """EfficientViT-B3 (timm ``efficientvit_b3``): 48,646,056 params, 4.0 GMACs at 224."""
    return _classifier("b3", resolution, num_classes)


@register_network
def efficientvit_l0(resolution: int | tuple[int, int] = 224, num_classes: int = 1000) -> Network:
    """Not a published classifier: backbone L0 (EfficientViT-SAM-L0's, backbone.py l.341) with
    EfficientViT-L1's ClsHead (neither mit's cls.py nor timm has an L0 classifier)."""
    return _classifier("l0", resolution, num_classes)


@register_network
def efficientvit_l1(resolution: int | tuple[int, int] = 224, num_classes: int = 1000) -> Network:
    """EfficientViT-L1 (timm ``efficientvit_l1``): 52,654,088 params, 5.3 GMACs at 224."""
    return _classifier("l1", resolution, num_classes)


@register_network
def efficientvit_l2(resolution: int | tuple[int, int] = 224, num_classes: int = 1000) -> Network:
    """EfficientViT-L2 (timm ``efficientvit_l2``): 63,707,016 params, 6.9 GMACs at 224."""
    return _classifier("l2", resolution, num_classes)


@register_network
def efficientvit_l3(resolution: int | tuple[int, int] = 224, num_classes: int = 1000) -> Network:
    """EfficientViT-L3 (timm ``efficientvit_l3``): 246,037,288 params, 28 GMACs at 224."""
    return _classifier("l3", resolution, num_classes)
