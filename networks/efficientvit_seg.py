"""EfficientViT semantic segmentation (Cityscapes, ADE20K), as mit-han-lab/efficientvit.

mit-han-lab/efficientvit@de7d7733cc0329f391b33f1f459271562ec27bd5
``efficientvit/models/efficientvit/seg.py`` (SegHead l.30, EfficientViTSeg l.107, the
``efficientvit_seg_*`` functions l.120-340) on the backbones of :mod:`simulator.networks.efficientvit`.
SegHead: a 1×1 ConvLayer (BN, no act) per input stage4/3/2, bicubic upsampling of stage4 (×4) and
stage3 (×2) to stride 8, sum ``s4 + (s3 + s2)``, ``head_depth`` residual MBConv (B) or FusedMBConv
(L) blocks, an optional expanding 1×1 ConvLayer, a 1×1 classifier with bias. The output is at
stride 8 (19×128×256 for Cityscapes' 1024×2048): the final upsampling is the evaluation script's,
outside the model and its MACs (MACs: B0 4.4 G, L1 282 G, L2 396 G at 1024×2048, as the README).
"""

from __future__ import annotations

from simulator.errors import ShapeError
from simulator.model.graph import Network, NetworkBuilder
from simulator.model.registry import height_width, register_network
from simulator.networks.efficientvit import (
    backbone_b,
    backbone_l,
    conv_layer,
    fused_mb_conv,
    mb_conv,
    )

#: (variant, dataset) -> head_width, head_depth, expand_ratio, middle_op, final_expand, classes
SEG_HEADS = {
    ("b0", "cityscapes"): (32, 1, 4, "mbconv", 4, 19),
    ("b1", "cityscapes"): (64, 3, 4, "mbconv", 4, 19),
    ("b1", "ade20k"): (64, 3, 4, "mbconv", None, 150),
    ("b2", "cityscapes"): (96, 3, 4, "mbconv", 4, 19),
    ("b2", "ade20k"): (96, 3, 4, "mbconv", None, 150),
    ("b3", "cityscapes"): (128, 3, 4, "mbconv", 4, 19),
    ("b3", "ade20k"): (128, 3, 4, "mbconv", None, 150),
    ("l1", "cityscapes"): (256, 3, 1, "fmbconv", None, 19),
    ("l1", "ade20k"): (128, 3, 4, "fmbconv", 8, 150),
    ("l2", "cityscapes"): (256, 5, 1, "fmbconv", None, 19),
    ("l2", "ade20k"): (128, 3, 4, "fmbconv", 8, 150),
}
#: the READMEs' evaluation sizes
DEFAULT_RESOLUTION = {"cityscapes": (1024, 2048), "ade20k": (512, 512)}


def _check_aligned(name: str, hw: tuple[int, int]) -> None:
    """The head adds stage4 ×4 and stage3 ×2 to stage2, so their maps must be 1:2:4. Each stride-2
    layer (3×3, padding 1) gives ``ceil(n / 2)``: stage2 is ``ceil(n / 8)``, and the maps line up
    exactly when that is a multiple of 4, i.e. ``n`` in ``32k − 7 .. 32k`` (any multiple of 32). The
    reference model fails the same way (its ``+`` of the upsampled maps)."""
    bad = [n for n in hw if -(-n // 8) % 4]
    if bad:
        raise ShapeError(f"network {name!r}: resolution {hw[0]}x{hw[1]} gives stride-8/16/32 maps that are "
                         f"not 4:2:1 for the head's ×4 and ×2 upsampling; each side must be 32k−7 to 32k "
                         f"pixels (e.g. any multiple of 32), not {bad[0]}")


def _segmenter(variant: str, resolution, dataset: str, num_classes: int | None) -> Network:
    if (variant, dataset) not in SEG_HEADS:
        datasets = sorted(d for v, d in SEG_HEADS if v == variant)
        raise ValueError(f"efficientvit_seg_{variant}: dataset {dataset!r} is not one of "
                         f"{', '.join(datasets)}")
    width, depth, expand, middle_op, final_expand, classes = SEG_HEADS[(variant, dataset)]
    hw = height_width(DEFAULT_RESOLUTION[dataset] if resolution is None else resolution)
    _check_aligned(f"efficientvit_seg_{variant}", hw)
    net = NetworkBuilder(f"efficientvit_seg_{variant}_{dataset}", (3, *hw))
    if variant.startswith("b"):
        act, feats = "hswish", backbone_b(net, variant)
    else:
        act, feats = "gelu", backbone_l(net, variant)
    inputs = []
    for i, (fid, factor) in enumerate((("stage4", 4), ("stage3", 2), ("stage2", 1))):
        y = conv_layer(net, feats[fid], width, 1, act=None, prefix=f"head.input_ops.{i}.op_list.0")
        if factor != 1:  # UpSampleLayer(factor, bicubic, align_corners=False)
            y = net.interpolate(y, scale_factor=factor, mode="bicubic", name=f"head.input_ops.{i}.op_list.1")
        inputs.append(y)
    x = net.add_(inputs[0], net.add_(inputs[1], inputs[2], name="head.merge.0"), name="head.merge.1")
    for i in range(depth):
        p = f"head.middle.op_list.{i}"
        if middle_op == "mbconv":
            y = mb_conv(net, x, width, 1, expand, False, "bn2d", (act, act, None), f"{p}.main")
        else:
            y = fused_mb_conv(net, x, width, 1, expand, False, "bn2d", (act, None), f"{p}.main")
        x = net.add_(y, x, name=f"{p}.add")
    if final_expand is not None:
        x = conv_layer(net, x, width * final_expand, 1, act=act, prefix="head.output_ops.0.op_list.0")
    conv_layer(net, x, classes if num_classes is None else num_classes, 1, bias=True, norm=None, act=None,
               prefix="head.output_ops.0.op_list.1")
    return net.build()


@register_network
def efficientvit_seg_b0(resolution: int | tuple[int, int] | None = None, dataset: str = "cityscapes",
                        num_classes: int | None = None) -> Network:
    """seg.py ``efficientvit_seg_b0`` (Cityscapes only): 706,691 params, 4.4 GMACs at 1024×2048."""
    return _segmenter("b0", resolution, dataset, num_classes)


@register_network
def efficientvit_seg_b1(resolution: int | tuple[int, int] | None = None, dataset: str = "cityscapes",
                        num_classes: int | None = None) -> Network:
    """seg.py ``efficientvit_seg_b1``: Cityscapes 4,803,443 params; ADE20K 4,791,414."""
    return _segmenter("b1", resolution, dataset, num_classes)


@register_network
def efficientvit_seg_b2(resolution: int | tuple[int, int] | None = None, dataset: str = "cityscapes",
                        num_classes: int | None = None) -> Network:
    """seg.py ``efficientvit_seg_b2``: Cityscapes 15,323,779 params; ADE20K 15,293,382."""
    return _segmenter("b2", resolution, dataset, num_classes)


@register_network
def efficientvit_seg_b3(resolution: int | tuple[int, int] | None = None, dataset: str = "cityscapes",
                        num_classes: int | None = None) -> Network:
    """seg.py ``efficientvit_seg_b3``: Cityscapes 39,603,155 params; ADE20K 39,546,198."""
    return _segmenter("b3", resolution, dataset, num_classes)


@register_network
def efficientvit_seg_l1(resolution: int | tuple[int, int] | None = None, dataset: str = "cityscapes",
                        num_classes: int | None = None) -> Network:
    """seg.py ``efficientvit_seg_l1``: Cityscapes 40,242,227 params, 282 GMACs at 1024×2048."""
    return _segmenter("l1", resolution, dataset, num_classes)


@register_network
def efficientvit_seg_l2(resolution: int | tuple[int, int] | None = None, dataset: str = "cityscapes",
                        num_classes: int | None = None) -> Network:
    """seg.py ``efficientvit_seg_l2``: Cityscapes 52,607,923 params, 396 GMACs at 1024×2048."""
    return _segmenter("l2", resolution, dataset, num_classes)
