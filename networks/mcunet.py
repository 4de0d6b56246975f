"""MCUNet ImageNet models (Lin et al., "MCUNet: Tiny Deep Learning on IoT Devices", NeurIPS 2020) and
the zoo's MobileNetV2 x0.35 baseline, built from the zoo's ProxylessNAS-format JSON net configs.

Sources:

* zoo names (net_id -> net_name, description, resolution): mit-han-lab/mcunet @
  9c164f8483003a5c6445871d94d30720aecc5918, ``mcunet/model_zoo.py`` and ``README.md`` ('Model List');
* JSON configs: mit-han-lab/tinyml @ e899b1bec08604910098ab6aab57bb30735dbb31,
  ``mcunet/assets/configs/<net_name>.json``, copied verbatim into ``mcunet_configs/`` (the zoo itself
  downloads the same file names from hanlab18.mit.edu; the builds reproduce the README's params,
  MACs and resolution for all six models);
* semantics: mit-han-lab/mcunet @ 9c164f84, ``mcunet/tinynas/nn/networks/proxyless_nets.py`` and
  ``mcunet/tinynas/nn/modules/layers.py``:

  - ``first_conv`` (and ``feature_mix_layer``): ConvLayer, ops order weight-bn-act, padding k // 2, no bias;
  - each block: MBInvertedConvLayer = [1×1 conv -> BN -> ReLU6 unless expand_ratio == 1] -> k×k
    depthwise conv (stride, padding k // 2) -> BN -> ReLU6 -> 1×1 conv -> BN (linear); no conv bias, no
    SE; mid channels = ``mid_channels`` or ``round(in * expand_ratio)``; ``conv(x) + x`` where the JSON
    has an IdentityLayer shortcut (an out-of-place add);
  - head: ``x.mean(3).mean(2)`` then Linear(in, classes) with bias.

PyTorch semantics: ReLU6(inplace=True), BatchNorm and the residual add out of place. Deployment folding
(BN into the conv, ReLU6 in its epilogue) is :func:`simulator.model.fusion.inference_view`. Neither
models TinyEngine's in-place depthwise convolution or patch-based inference, so the simulator's peak
activation memory is an upper bound on what TinyEngine reports as peak SRAM (see the tests).
"""

from __future__ import annotations

import functools
import importlib.resources
import json

from simulator.model.graph import Network, NetworkBuilder
from simulator.model.registry import Resolution, height_width, register_network

#: our name -> (zoo net_id, zoo net_name = the JSON config's file stem), from model_zoo.py @ 9c164f84
MCUNET_ZOO: dict[str, tuple[str, str]] = {
    "mcunet_in0": ("mcunet-in0", "mcunet-10fps_imagenet"),
    "mcunet_in1": ("mcunet-in1", "mcunet-5fps_imagenet"),
    "mcunet_in2": ("mcunet-in2", "mcunet-256kb-1mb_imagenet"),
    "mcunet_in3": ("mcunet-in3", "mcunet-320kb-1mb_imagenet"),
    "mcunet_in4": ("mcunet-in4", "mcunet-512kb-2mb_imagenet"),
    "mcunet_mbv2_w035_r144": ("mbv2-w0.35", "mbv2-w0.35-r144_imagenet"),
}

@functools.cache
def _config_text(net_name: str) -> str:
    path = importlib.resources.files("simulator.networks") / "mcunet_configs" / f"{net_name}.json"
    return path.read_text(encoding="utf-8")


def load_config(name: str) -> dict:
    """The zoo's JSON net config of network ``name`` (a key of :data:`MCUNET_ZOO`), as a fresh dict."""
    if name not in MCUNET_ZOO:
        raise ValueError(f"unknown MCUNet zoo network {name!r}; choose one of {sorted(MCUNET_ZOO)}")
    return json.loads(_config_text(MCUNET_ZOO[name][1]))


def _conv_layer(net: NetworkBuilder, x: str, config: dict, prefix: str) -> str:
    """ProxylessNAS ``ConvLayer`` with ops order weight_bn_act (padding k // 2)."""
    if config["ops_order"] != "weight_bn_act" or config.get("dilation", 1) != 1:
        raise ValueError(f"{prefix}: unsupported ConvLayer config {config}")
    k = config["kernel_size"]
    x = net.conv2d(x, config["out_channels"], k, stride=config["stride"], padding=k // 2,
                   groups=config.get("groups", 1), bias=config["bias"], name=f"{prefix}.conv")
    if config["use_bn"]:
        x = net.batch_norm(x, name=f"{prefix}.bn")
    if config["act_func"]:
        x = net.activation(x, config["act_func"], inplace=True, name=f"{prefix}.act")
    return x


def _mb_inverted_block(net: NetworkBuilder, x: str, block: dict, prefix: str) -> str:
    """``MobileInvertedResidualBlock(MBInvertedConvLayer, shortcut)`` of proxyless_nets.py."""
    m = block["mobile_inverted_conv"]
    if m["name"] != "MBInvertedConvLayer" or m.get("use_se", False):
        raise ValueError(f"{prefix}: unsupported block {m['name']!r} (SE: {m.get('use_se', False)})")
    in_channels = net.shape(x)[0]
    if in_channels != m["in_channels"]:
        raise ValueError(f"{prefix}: config expects {m['in_channels']} input channels, got {in_channels}")
    mid = m["mid_channels"] if m["mid_channels"] is not None else round(in_channels * m["expand_ratio"])
    k, act, p = m["kernel_size"], m["act_func"], f"{prefix}.mobile_inverted_conv"
    y = x
    if m["expand_ratio"] != 1:
        y = net.conv2d(y, mid, 1, bias=False, name=f"{p}.inverted_bottleneck.conv")
        y = net.batch_norm(y, name=f"{p}.inverted_bottleneck.bn")
        y = net.activation(y, act, inplace=True, name=f"{p}.inverted_bottleneck.act")
    y = net.conv2d(y, mid, k, stride=m["stride"], padding=k // 2, groups=mid, bias=False,
                   name=f"{p}.depth_conv.conv")
    y = net.batch_norm(y, name=f"{p}.depth_conv.bn")
    y = net.activation(y, act, inplace=True, name=f"{p}.depth_conv.act")
    y = net.conv2d(y, m["out_channels"], 1, bias=False, name=f"{p}.point_linear.conv")
    y = net.batch_norm(y, name=f"{p}.point_linear.bn")
    shortcut = block["shortcut"]
    if shortcut is not None:
        if shortcut["name"] != "IdentityLayer" or net.shape(y) != net.shape(x):
            raise ValueError(f"{prefix}: unsupported shortcut {shortcut['name']!r}")
        y = net.add_(y, x, name=f"{prefix}.add")   # conv(x) + shortcut(x)
    return y


def proxyless_network(config: dict, name: str, resolution: Resolution | None = None,
                      num_classes: int | None = None) -> Network:
    """A ProxylessNAS-format net config (first_conv, MBConv blocks, feature_mix_layer, classifier).

    ``resolution`` defaults to the config's own; ``num_classes`` to the classifier's ``out_features``.
    """
    h, w = height_width(config["resolution"] if resolution is None else resolution)
    net = NetworkBuilder(name, (3, h, w))
    x = _conv_layer(net, net.input, config["first_conv"], "first_conv")
    for i, block in enumerate(config["blocks"]):
        x = _mb_inverted_block(net, x, block, f"blocks.{i}")
    if config["feature_mix_layer"] is not None:
        x = _conv_layer(net, x, config["feature_mix_layer"], "feature_mix_layer")
    x = net.adaptive_avg_pool2d(x, 1, name="mean")   # x.mean(3).mean(2)
    x = net.flatten(x, name="flatten")
    classifier = config["classifier"]
    if classifier["use_bn"] or classifier["act_func"] is not None:
        raise ValueError(f"{name}: unsupported classifier {classifier}")
    net.linear(x, classifier["out_features"] if num_classes is None else num_classes,
               bias=classifier["bias"], name="classifier.linear")
    return net.build()


def _zoo(name: str, resolution: Resolution, num_classes: int) -> Network:
    return proxyless_network(load_config(name), name, resolution, num_classes)


@register_network
def mcunet_in0(resolution: Resolution = 48, num_classes: int = 1000) -> Network:
    """Zoo ``mcunet-in0`` = ``mcunet-10fps_imagenet`` ("runs 10fps on STM32F746"), 48×48."""
    return _zoo("mcunet_in0", resolution, num_classes)


@register_network
def mcunet_in1(resolution: Resolution = 96, num_classes: int = 1000) -> Network:
    """Zoo ``mcunet-in1`` = ``mcunet-5fps_imagenet`` ("runs 5fps on STM32F746"), 96×96."""
    return _zoo("mcunet_in1", resolution, num_classes)


@register_network
def mcunet_in2(resolution: Resolution = 160, num_classes: int = 1000) -> Network:
    """Zoo ``mcunet-in2`` = ``mcunet-256kb-1mb_imagenet`` (fits 256 KB SRAM, 1 MB flash), 160×160."""
    return _zoo("mcunet_in2", resolution, num_classes)


@register_network
def mcunet_in3(resolution: Resolution = 176, num_classes: int = 1000) -> Network:
    """Zoo ``mcunet-in3`` = ``mcunet-320kb-1mb_imagenet`` (fits 320 KB SRAM, 1 MB flash), 176×176."""
    return _zoo("mcunet_in3", resolution, num_classes)


@register_network
def mcunet_in4(resolution: Resolution = 160, num_classes: int = 1000) -> Network:
    """Zoo ``mcunet-in4`` = ``mcunet-512kb-2mb_imagenet`` (fits 512 KB SRAM, 2 MB flash), 160×160."""
    return _zoo("mcunet_in4", resolution, num_classes)


@register_network
def mcunet_mbv2_w035_r144(resolution: Resolution = 144, num_classes: int = 1000) -> Network:
    """Zoo baseline ``mbv2-w0.35`` = ``mbv2-w0.35-r144_imagenet``, 144×144.

    The ProxylessNAS-format MobileNetV2 x0.35 (first conv 16, feature mix 1×1 conv to 448 channels):
    not torchvision's ``mobilenet_v2(width_mult=0.35)``, which keeps 1280 last channels.
    """
    return _zoo("mcunet_mbv2_w035_r144", resolution, num_classes)
