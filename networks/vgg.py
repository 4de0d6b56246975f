"""VGG (Simonyan & Zisserman, ICLR 2015), exactly as ``torchvision.models.vgg``.

3×3 convolutions with padding 1 and in-place ReLU, 2×2 max pooling, an adaptive average pool
to 7×7 and three linear layers (dropout is the identity at inference and is omitted).
Parameter counts match torchvision (vgg16: 138,357,544).
"""

from __future__ import annotations

from simulator.model.graph import Network, NetworkBuilder
from simulator.model.registry import Resolution, height_width, register_network

CONFIGS: dict[str, list[int | str]] = {
    "vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg13": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "vgg19": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
              512, 512, 512, 512, "M"],
}


def vgg(config: str, resolution: Resolution = 224, num_classes: int = 1000,
        batch_norm: bool = False) -> Network:
    """torchvision's ``vgg11/13/16/19`` (``_bn`` variants with ``batch_norm=True``)."""
    name = config + ("_bn" if batch_norm else "")
    net = NetworkBuilder(name, (3, *height_width(resolution)))
    x = net.input
    index = 0
    for item in CONFIGS[config]:
        if item == "M":
            x = net.max_pool2d(x, 2, stride=2, name=f"features.{index}")
            index += 1
            continue
        x = net.conv2d(x, int(item), 3, padding=1, name=f"features.{index}")
        index += 1
        if batch_norm:
            x = net.batch_norm(x, name=f"features.{index}")
            index += 1
        x = net.relu(x, inplace=True, name=f"features.{index}")
        index += 1
    x = net.adaptive_avg_pool2d(x, 7, name="avgpool")
    x = net.flatten(x, name="flatten")
    x = net.linear(x, 4096, name="classifier.0")
    x = net.relu(x, inplace=True, name="classifier.1")
    x = net.linear(x, 4096, name="classifier.3")
    x = net.relu(x, inplace=True, name="classifier.4")
    net.linear(x, num_classes, name="classifier.6")
    return net.build()


@register_network
def vgg11(resolution: Resolution = 224, num_classes: int = 1000) -> Network:
    return vgg("vgg11", resolution, num_classes)


@register_network
def vgg13(resolution: Resolution = 224, num_classes: int = 1000) -> Network:
    return vgg("vgg13", resolution, num_classes)


@register_network
def vgg16(resolution: Resolution = 224, num_classes: int = 1000) -> Network:
    return vgg("vgg16", resolution, num_classes)


@register_network
def vgg19(resolution: Resolution = 224, num_classes: int = 1000) -> Network:
    return vgg("vgg19", resolution, num_classes)


@register_network
def vgg16_bn(resolution: Resolution = 224, num_classes: int = 1000) -> Network:
    return vgg("vgg16", resolution, num_classes, batch_norm=True)
