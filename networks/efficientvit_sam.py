"""EfficientViT-SAM image encoders (L0-L2, XL0, XL1), as mit-han-lab/efficientvit.

mit-han-lab/efficientvit@de7d7733cc0329f391b33f1f459271562ec27bd5
``efficientvit/models/efficientvit/sam.py``: EfficientViTSamImageEncoder (l.172) = backbone
(:func:`simulator.networks.efficientvit.backbone_l`, xl0/xl1 from l.635/l.660) → SamNeck (l.102) →
LayerNorm2d(256). SamNeck: per input a 1×1 ConvLayer to 256 (BN, no act) and a bicubic resize to
64×64 (always executed: UpSampleLayer compares the size to a list, ops.py l.81), sum, ``head_depth``
residual FusedMBConv blocks, a 1×1 conv with bias. Output 256×64×64 at any input. Inputs: 512×512
(L0-L2), 1024×1024 (XL0, XL1), after SAM's resize-and-pad. The prompt encoder and mask decoder
(the README's Params column includes them, +4,064,560) are not part of the encoder.
"""

from __future__ import annotations

from simulator.model.graph import Network, NetworkBuilder
from simulator.model.registry import height_width, register_network
from simulator.networks.efficientvit import backbone_l, conv_layer, fused_mb_conv

#: variant -> fid_list, head_depth, expand_ratio, default input size (sam.py l.581-680)
SAM_NECKS = {
    "l0": (("stage4", "stage3", "stage2"), 4, 1, 512),
    "l1": (("stage4", "stage3", "stage2"), 8, 1, 512),
    "l2": (("stage4", "stage3", "stage2"), 12, 1, 512),
    "xl0": (("stage5", "stage4", "stage3"), 6, 4, 1024),
    "xl1": (("stage5", "stage4", "stage3"), 12, 4, 1024),
}


def _encoder(variant: str, resolution) -> Network:
    fids, depth, expand, default = SAM_NECKS[variant]
    net = NetworkBuilder(f"efficientvit_sam_{variant}", (3, *height_width(default if resolution is None
                                                                            else resolution)))
    feats = backbone_l(net, variant)
    inputs = []
    for i, fid in enumerate(fids):
        y = conv_layer(net, feats[fid], 256, 1, act=None, prefix=f"neck.input_ops.{i}.op_list.0")
        inputs.append(net.interpolate(y, size=(64, 64), mode="bicubic", name=f"neck.input_ops.{i}.op_list.1"))
    x = net.add_(inputs[0], net.add_(inputs[1], inputs[2], name="neck.merge.0"), name="neck.merge.1")
    for i in range(depth):
        p = f"neck.middle.op_list.{i}"
        y = fused_mb_conv(net, x, 256, 1, expand, False, "bn2d", ("gelu", None), f"{p}.main")
        x = net.add_(y, x, name=f"{p}.add")
    x = conv_layer(net, x, 256, 1, bias=True, norm=None, act=None, prefix="neck.output_ops.0.op_list.0")
    net.layer_norm2d(x, name="norm")
    return net.build()


@register_network
def efficientvit_sam_l0(resolution: int | tuple[int, int] | None = None) -> Network:
    """EfficientViT-SAM-L0 image encoder: 30,728,224 params, 35 GMACs at 512×512."""
    return _encoder("l0", resolution)


@register_network
def efficientvit_sam_l1(resolution: int | tuple[int, int] | None = None) -> Network:
    """EfficientViT-SAM-L1 image encoder: 43,585,568 params, 49 GMACs at 512×512."""
    return _encoder("l1", resolution)


@register_network
def efficientvit_sam_l2(resolution: int | tuple[int, int] | None = None) -> Network:
    """EfficientViT-SAM-L2 image encoder: 57,264,032 params, 69 GMACs at 512×512."""
    return _encoder("l2", resolution)


@register_network
def efficientvit_sam_xl0(resolution: int | tuple[int, int] | None = None) -> Network:
    """EfficientViT-SAM-XL0 image encoder: 112,893,344 params, 185 GMACs at 1024×1024."""
    return _encoder("xl0", resolution)


@register_network
def efficientvit_sam_xl1(resolution: int | tuple[int, int] | None = None) -> Network:
    """EfficientViT-SAM-XL1 image encoder: 199,281,568 params, 322 GMACs at 1024×1024."""
    return _encoder("xl1", resolution)
