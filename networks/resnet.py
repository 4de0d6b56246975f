"""ResNet family (He et al., CVPR 2016), exactly as ``torchvision.models.resnet`` (v1.5).

Stride on the 3×3 convolution of the bottleneck, 1×1 projection shortcut with BatchNorm on the
first block of a stage, in-place ReLU and in-place residual add (``out += identity``), as
torchvision executes them. ResNeXt and Wide ResNet come from ``groups`` and ``width_per_group``.
Parameter counts match torchvision (resnet50: 25,557,032).
"""

from __future__ import annotations

from simulator.model.graph import Network, NetworkBuilder
from simulator.model.registry import Resolution, height_width, register_network


def _conv_bn(net: NetworkBuilder, x: str, channels: int, kernel: int, stride: int, prefix: str,
             index: int, groups: int = 1) -> str:
    x = net.conv2d(x, channels, kernel, stride=stride, padding=kernel // 2, groups=groups, bias=False,
                   name=f"{prefix}.conv{index}")
    return net.batch_norm(x, name=f"{prefix}.bn{index}")


def _block(net: NetworkBuilder, x: str, planes: int, stride: int, bottleneck: bool, groups: int,
           width_per_group: int, prefix: str) -> str:
    expansion = 4 if bottleneck else 1
    in_channels = net.shape(x)[0]
    if bottleneck:
        width = int(planes * (width_per_group / 64.0)) * groups
        out = net.relu(_conv_bn(net, x, width, 1, 1, prefix, 1), inplace=True, name=f"{prefix}.relu1")
        out = net.relu(_conv_bn(net, out, width, 3, stride, prefix, 2, groups), inplace=True,
                       name=f"{prefix}.relu2")
        out = _conv_bn(net, out, planes * expansion, 1, 1, prefix, 3)
    else:
        out = net.relu(_conv_bn(net, x, planes, 3, stride, prefix, 1), inplace=True, name=f"{prefix}.relu1")
        out = _conv_bn(net, out, planes, 3, 1, prefix, 2)
    identity = x
    if stride != 1 or in_channels != planes * expansion:
        identity = net.conv2d(x, planes * expansion, 1, stride=stride, bias=False,
                              name=f"{prefix}.downsample.0")
        identity = net.batch_norm(identity, name=f"{prefix}.downsample.1")
    out = net.add_(out, identity, inplace=True, name=f"{prefix}.add")
    return net.relu(out, inplace=True, name=f"{prefix}.relu")


def resnet(name: str, blocks: tuple[int, int, int, int], bottleneck: bool, resolution: Resolution = 224,
           num_classes: int = 1000, groups: int = 1, width_per_group: int = 64) -> Network:
    """A torchvision ResNet with ``blocks`` blocks per stage."""
    net = NetworkBuilder(name, (3, *height_width(resolution)))
    x = net.conv2d(net.input, 64, 7, stride=2, padding=3, bias=False, name="conv1")
    x = net.batch_norm(x, name="bn1")
    x = net.relu(x, inplace=True, name="relu")
    x = net.max_pool2d(x, 3, stride=2, padding=1, name="maxpool")
    for stage, (planes, count) in enumerate(zip((64, 128, 256, 512), blocks, strict=True), start=1):
        for block in range(count):
            stride = 2 if stage > 1 and block == 0 else 1
            x = _block(net, x, planes, stride, bottleneck, groups, width_per_group, f"layer{stage}.{block}")
    x = net.adaptive_avg_pool2d(x, 1, name="avgpool")
    x = net.flatten(x, name="flatten")
    net.linear(x, num_classes, name="fc")
    return net.build()


@register_network
def resnet18(resolution: Resolution = 224, num_classes: int = 1000) -> Network:
    return resnet("resnet18", (2, 2, 2, 2), False, resolution, num_classes)


@register_network
def resnet34(resolution: Resolution = 224, num_classes: int = 1000) -> Network:
    return resnet("resnet34", (3, 4, 6, 3), False, resolution, num_classes)


@register_network
def resnet50(resolution: Resolution = 224, num_classes: int = 1000) -> Network:
    return resnet("resnet50", (3, 4, 6, 3), True, resolution, num_classes)


@register_network
def resnet101(resolution: Resolution = 224, num_classes: int = 1000) -> Network:
    return resnet("resnet101", (3, 4, 23, 3), True, resolution, num_classes)


@register_network
def resnet152(resolution: Resolution = 224, num_classes: int = 1000) -> Network:
    return resnet("resnet152", (3, 8, 36, 3), True, resolution, num_classes)


@register_network
def resnext50_32x4d(resolution: Resolution = 224, num_classes: int = 1000) -> Network:
    return resnet("resnext50_32x4d", (3, 4, 6, 3), True, resolution, num_classes, groups=32,
                  width_per_group=4)


@register_network
def wide_resnet50_2(resolution: Resolution = 224, num_classes: int = 1000) -> Network:
    return resnet("wide_resnet50_2", (3, 4, 6, 3), True, resolution, num_classes, width_per_group=128)
