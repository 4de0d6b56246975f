"""Reference network definitions, each a function returning a :class:`simulator.model.graph.Network`.

:data:`NETWORKS` maps a name to its builder; builders take ``resolution`` and ``num_classes``
keyword arguments (MobileNetV2 also ``width_mult``).
"""

from __future__ import annotations

from collections.abc import Callable

from simulator.networks.alexnet import alexnet
from simulator.networks.mobilenet import mobilenet_v2
from simulator.networks.resnet import (
    resnet18,
    resnet34,
    resnet50,
    resnet101,
    resnet152,
    resnext50_32x4d,
    wide_resnet50_2,
)
from simulator.networks.vgg import vgg11, vgg13, vgg16, vgg16_bn, vgg19
from simulator.networks.vit import vit_b_16, vit_b_32, vit_l_16, vit_l_32

from simulator.model.graph import Network

NETWORKS: dict[str, Callable[..., Network]] = {
    builder.__name__: builder
    for builder in (
        alexnet, vgg11, vgg13, vgg16, vgg19, vgg16_bn, resnet18, resnet34, resnet50, resnet101, resnet152,
        resnext50_32x4d, wide_resnet50_2, mobilenet_v2, vit_b_16, vit_b_32, vit_l_16, vit_l_32,
    )
}

__all__ = ["NETWORKS"]
