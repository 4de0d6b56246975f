"""RetinaNet (Lin et al., "Focal Loss for Dense Object Detection", ICCV 2017) as MLPerf Inference runs it:
ResNeXt50-32x4d FPN, 800×800, the 264 classes of MLPerf's OpenImages subset.

Reference: mlcommons/inference @ 1882e507b3db4e2c9a56230688d0c12df9e5eaf0,
``vision/classification_and_detection/python/models/resnext50/retinanet.py``
(``retinanet_resnext50_32x4d_fpn``, ``RetinaNetClassificationHead``, ``RetinaNetRegressionHead``) and
@ 3ae5f5d0773acbb04b29c7f76ae6a3cd2e37175b ``.../resnext50/backbone_utils.py`` (``resnet_fpn_backbone``:
``norm_layer=FrozenBatchNorm2d``, ``returned_layers=[2, 3, 4]``, FPN of 256 channels,
``LastLevelP6P7(256, 256)``); the FPN and P6/P7 as torchvision's ``feature_pyramid_network.py``
(P6 from P5 since ``in_channels == out_channels``; ``p7 = conv(relu(p6))``; the top-down path adds
``F.interpolate(last_inner, size=lateral, mode="nearest")``). MLPerf's image size is 800×800
(``GeneralizedRCNNTransform(image_size=[800, 800])``) and 264 classes (``mlperf_inference``'s
``openimages-mlperf.json``).

Structure: the ResNeXt50-32x4d body of :mod:`networks.resnet` (no avgpool/fc) with
FrozenBatchNorm2d: scale and shift are buffers, not parameters (``BatchNorm(affine=False)`` here:
the same arithmetic, no parameters). Lateral 1×1 convs (C3 512, C4 1024, C5 2048 -> 256, bias),
3×3 output convs (bias), P6 = conv3×3/2(P5), P7 = conv3×3/2(ReLU(P6)). The heads: 4 × (conv3×3
256 -> 256 + bias, ReLU), then ``cls_logits`` conv3×3 -> ``9·K`` (9 anchors: 3 scales × 3 ratios)
or ``bbox_reg`` conv3×3 -> ``9·4``; the same modules run on all five levels (the first run owns
the weights, the others are :class:`~simulator.model.layers.SharedConv`). Each level's output is
viewed as ``(A, K, H, W)``, permuted to ``(H, W, A, K)``, reshaped to ``(H·W·A, K)`` (a copy in
PyTorch; a view here) and the levels concatenated. Anchor generation, box decoding and NMS are
post-processing, not part of the network.

Parameters (K = 264): 37,060,652 = body 22,911,680 (torchvision's resnext50_32x4d 25,028,904 less the
fc and the 68,224 BatchNorm affine elements) + FPN and P6/P7 3,868,672 + heads 10,280,300. With a
ResNet-50 body and 91 classes the same code gives torchvision's ``retinanet_resnet50_fpn``
``num_params`` 34,014,999 (the tests check both).
"""

from __future__ import annotations

from simulator.model.graph import Network, NetworkBuilder
from simulator.model.layers import BatchNorm
from simulator.model.registry import Resolution, height_width, register_network

#: MLPerf Inference's OpenImages subset (``openimages-mlperf.json``): 264 classes
MLPERF_OPENIMAGES_CLASSES = 264
#: anchors per location: sizes ``(x, x·2^(1/3), x·2^(2/3))`` × aspect ratios ``(0.5, 1, 2)``
ANCHORS_PER_LOCATION = 9
FPN_CHANNELS = 256


def _frozen_bn(net: NetworkBuilder, x: str, name: str) -> str:
    """``FrozenBatchNorm2d``: ``x * scale + shift`` with buffers only (no parameters)."""
    return net.add(BatchNorm(net.shape(x)[0], affine=False), x, name=name)


def _conv_bn(net: NetworkBuilder, x: str, channels: int, kernel: int, stride: int, name: str,
             groups: int = 1) -> str:
    x = net.conv2d(x, channels, kernel, stride=stride, padding=kernel // 2, groups=groups, bias=False,
                   name=f"{name}.conv")
    return _frozen_bn(net, x, f"{name}.bn")


def _bottleneck(net: NetworkBuilder, x: str, planes: int, stride: int, groups: int, width_per_group: int,
                prefix: str) -> str:
    """torchvision's bottleneck: width ``planes · width_per_group / 64 · groups`` (ResNeXt50-32x4d:
    groups 32, width per group 4), stride on the grouped 3×3 conv."""
    width, out_channels = planes * width_per_group // 64 * groups, planes * 4
    in_channels = net.shape(x)[0]
    y = net.relu(_conv_bn(net, x, width, 1, 1, f"{prefix}.1"), inplace=True, name=f"{prefix}.relu1")
    y = net.relu(_conv_bn(net, y, width, 3, stride, f"{prefix}.2", groups=groups), inplace=True,
                 name=f"{prefix}.relu2")
    y = _conv_bn(net, y, out_channels, 1, 1, f"{prefix}.3")
    identity = x
    if stride != 1 or in_channels != out_channels:
        identity = _conv_bn(net, x, out_channels, 1, stride, f"{prefix}.downsample")
    y = net.add_(y, identity, inplace=True, name=f"{prefix}.add")
    return net.relu(y, inplace=True, name=f"{prefix}.relu")


def _body(net: NetworkBuilder, groups: int, width_per_group: int) -> list[str]:
    """The ResNet-50 layout (3, 4, 6, 3 blocks) to C3, C4, C5 (``layer2``, ``layer3``, ``layer4``)."""
    x = _conv_bn(net, net.input, 64, 7, 2, "body.stem")
    x = net.relu(x, inplace=True, name="body.relu")
    x = net.max_pool2d(x, 3, stride=2, padding=1, name="body.maxpool")
    features = []
    for stage, (planes, count) in enumerate(zip((64, 128, 256, 512), (3, 4, 6, 3), strict=True), start=1):
        for block in range(count):
            stride = 2 if stage > 1 and block == 0 else 1
            x = _bottleneck(net, x, planes, stride, groups, width_per_group, f"body.layer{stage}.{block}")
        if stage > 1:
            features.append(x)
    return features


def _fpn(net: NetworkBuilder, features: list[str]) -> list[str]:
    """torchvision's FeaturePyramidNetwork with LastLevelP6P7(256, 256): P3..P7."""
    inner = [net.conv2d(c, FPN_CHANNELS, 1, name=f"fpn.inner_blocks.{i}") for i, c in enumerate(features)]
    last = inner[-1]
    results = [net.conv2d(last, FPN_CHANNELS, 3, padding=1, name=f"fpn.layer_blocks.{len(inner) - 1}")]
    for i in range(len(inner) - 2, -1, -1):
        top_down = net.interpolate(last, size=net.shape(inner[i])[1:], mode="nearest",
                                   name=f"fpn.top_down.{i}")
        last = net.add_(inner[i], top_down, name=f"fpn.merge.{i}")
        results.insert(0, net.conv2d(last, FPN_CHANNELS, 3, padding=1, name=f"fpn.layer_blocks.{i}"))
    p6 = net.conv2d(results[-1], FPN_CHANNELS, 3, stride=2, padding=1, name="fpn.extra_blocks.p6")
    p7 = net.conv2d(net.relu(p6, name="fpn.extra_blocks.relu"), FPN_CHANNELS, 3, stride=2, padding=1,
                    name="fpn.extra_blocks.p7")
    return [*results, p6, p7]


def _head(net: NetworkBuilder, levels: list[str], head: str, last: str, per_anchor: int) -> str:
    """4 × (conv3×3 + ReLU) and a conv3×3 to ``A·per_anchor``, shared across levels.

    Returns the levels' outputs concatenated: ``(ΣHWA, per_anchor)``."""
    outputs = []
    for level, x in enumerate(levels):
        names = [f"head.{head}.conv.{2 * j}" for j in range(4)] + [f"head.{head}.{last}"]
        for j, owner in enumerate(names):
            name = owner if level == 0 else f"{owner}@P{level + 3}"
            if level == 0:
                out = per_anchor * ANCHORS_PER_LOCATION if j == 4 else FPN_CHANNELS
                x = net.conv2d(x, out, 3, padding=1, name=name)
            else:
                x = net.shared_conv2d(x, owner, name=name)
            if j < 4:
                x = net.relu(x, inplace=True, name=f"head.{head}.relu.{j}@P{level + 3}")
        _, h, w = net.shape(x)
        p = f"head.{head}.P{level + 3}"
        x = net.reshape(x, (ANCHORS_PER_LOCATION, per_anchor, h, w), name=f"{p}.view")
        x = net.permute(x, (2, 3, 0, 1), name=f"{p}.permute")
        outputs.append(net.reshape(x, (h * w * ANCHORS_PER_LOCATION, per_anchor), name=f"{p}.reshape"))
    return net.concat(*outputs, dim=0, name=f"head.{head}.cat")


def build_retinanet(name: str, resolution: Resolution, num_classes: int, groups: int = 32,
                    width_per_group: int = 4) -> Network:
    """MLPerf's RetinaNet on a ``(3, H, W)`` image; outputs ``cls_logits (ΣHWA, K)``, ``bbox_regression
    (ΣHWA, 4)``. ``groups = 1, width_per_group = 64`` is torchvision's ``retinanet_resnet50_fpn``."""
    net = NetworkBuilder(name, (3, *height_width(resolution)))
    levels = _fpn(net, _body(net, groups, width_per_group))
    logits = _head(net, levels, "classification_head", "cls_logits", num_classes)
    boxes = _head(net, levels, "regression_head", "bbox_reg", 4)
    return net.build(outputs=(logits, boxes))


@register_network
def retinanet(resolution: Resolution = 800, num_classes: int = MLPERF_OPENIMAGES_CLASSES) -> Network:
    """MLPerf Inference's ``retinanet``: ResNeXt50-32x4d FPN, 800×800, 264 OpenImages classes."""
    return build_retinanet("retinanet", resolution, num_classes)
