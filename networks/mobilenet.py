"""MobileNetV2 (Sandler et al., CVPR 2018), exactly as ``torchvision.models.mobilenet_v2``.

Inverted residual blocks (1×1 expansion, 3×3 depthwise, 1×1 linear projection), BatchNorm after
every convolution, ReLU6 in place, and an out-of-place residual add (``x + self.conv(x)``).
Parameter count matches torchvision at width 1.0 (3,504,872).
"""

from __future__ import annotations

from simulator.model.graph import Network, NetworkBuilder
from simulator.model.registry import Resolution, height_width, register_network

# expansion t, output channels c, repeats n, first stride s (the paper's Table 2)
INVERTED_RESIDUAL_SETTING = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                             (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))


def make_divisible(value: float, divisor: int = 8) -> int:
    """torchvision's ``_make_divisible``: round to a multiple of ``divisor``, never down by more than 10%."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def _conv_bn_relu6(net: NetworkBuilder, x: str, channels: int, kernel: int, stride: int, groups: int,
                   prefix: str) -> str:
    x = net.conv2d(x, channels, kernel, stride=stride, padding=(kernel - 1) // 2, groups=groups, bias=False,
                   name=f"{prefix}.0")
    x = net.batch_norm(x, name=f"{prefix}.1")
    return net.relu6(x, inplace=True, name=f"{prefix}.2")


def _inverted_residual(net: NetworkBuilder, x: str, out_channels: int, stride: int, expand_ratio: int,
                       prefix: str) -> str:
    in_channels = net.shape(x)[0]
    hidden = round(in_channels * expand_ratio)
    out, index = x, 0
    if expand_ratio != 1:
        out = _conv_bn_relu6(net, out, hidden, 1, 1, 1, f"{prefix}.conv.{index}")
        index += 1
    out = _conv_bn_relu6(net, out, hidden, 3, stride, hidden, f"{prefix}.conv.{index}")
    out = net.conv2d(out, out_channels, 1, bias=False, name=f"{prefix}.conv.{index + 1}")
    out = net.batch_norm(out, name=f"{prefix}.conv.{index + 2}")
    if stride == 1 and in_channels == out_channels:
        out = net.add_(x, out, name=f"{prefix}.add")
    return out


@register_network
def mobilenet_v2(resolution: Resolution = 224, num_classes: int = 1000, width_mult: float = 1.0) -> Network:
    """torchvision's MobileNetV2 with a width multiplier (channels rounded to multiples of 8)."""
    name = "mobilenet_v2" if width_mult == 1.0 else f"mobilenet_v2_{width_mult:g}"
    net = NetworkBuilder(name, (3, *height_width(resolution)))
    channels = make_divisible(32 * width_mult)
    last_channels = make_divisible(1280 * max(1.0, width_mult))
    x = _conv_bn_relu6(net, net.input, channels, 3, 2, 1, "features.0")
    index = 1
    for expand, c, repeats, first_stride in INVERTED_RESIDUAL_SETTING:
        out_channels = make_divisible(c * width_mult)
        for i in range(repeats):
            x = _inverted_residual(net, x, out_channels, first_stride if i == 0 else 1, expand,
                                   f"features.{index}")
            index += 1
    x = _conv_bn_relu6(net, x, last_channels, 1, 1, 1, f"features.{index}")
    x = net.adaptive_avg_pool2d(x, 1, name="avgpool")
    x = net.flatten(x, name="flatten")
    net.linear(x, num_classes, name="classifier.1")
    return net.build()
