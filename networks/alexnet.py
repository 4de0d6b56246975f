"""AlexNet as in the lecture and the paper (Krizhevsky et al., NeurIPS 2012).

Two-tower grouping kept as ``groups=2`` in conv2, conv4 and conv5, no local response
normalization, 96/256/384/384/256 channels. This is the lecture's network (61M parameters,
724M MACs at 224×224), not torchvision's single-tower variant (64/192/384/256/256 channels).
"""

from __future__ import annotations

from simulator.model.graph import Network, NetworkBuilder
from simulator.model.registry import Resolution, height_width, register_network


@register_network
def alexnet(resolution: Resolution = 224, num_classes: int = 1000) -> Network:
    """The lecture's AlexNet on a ``3×H×W`` image (``resolution``: ``r`` for ``r×r``, or ``(H, W)``).

    There is no adaptive pool before the classifier: fc6 takes the flattened ``256×h×w`` map, 6×6 at
    224×224. At another size fc6 is the layer that map needs (``256·h·w·4096 + 4096`` parameters),
    not the trained one, e.g. 6×9 at 224×320.
    """
    net = NetworkBuilder("alexnet", (3, *height_width(resolution)))
    x = net.input
    for name, channels, kernel, stride, padding, groups, pool in (
        ("conv1", 96, 11, 4, 2, 1, True),
        ("conv2", 256, 5, 1, 2, 2, True),
        ("conv3", 384, 3, 1, 1, 1, False),
        ("conv4", 384, 3, 1, 1, 2, False),
        ("conv5", 256, 3, 1, 1, 2, True),
    ):
        x = net.conv2d(x, channels, kernel, stride=stride, padding=padding, groups=groups, name=name)
        x = net.relu(x, inplace=True, name=f"{name}.relu")
        if pool:
            x = net.max_pool2d(x, 3, stride=2, name=f"{name}.pool")
    x = net.flatten(x, name="flatten")
    for name, features in (("fc6", 4096), ("fc7", 4096)):
        x = net.linear(x, features, name=name)
        x = net.relu(x, inplace=True, name=f"{name}.relu")
    net.linear(x, num_classes, name="fc8")
    return net.build()
