"""The baseline models of TinyEngine's measured tables: ``proxyless-w0.3-r176``, ``proxyless-w0.3-r64`` and
``mbv2-w0.3-r64`` (ImageNet, 1000 classes), built from the MCUNet zoo's ProxylessNAS-format configs.

Sources:

* the tables: mit-han-lab/tinyengine @ 03639563ebf6538fff557515e31667fca6448cd3, ``README.md``
  ('Measured Results': latency, peak SRAM and flash on STM32H743), rows ``proxyless-w0.3-r64``,
  ``proxyless-w0.3-r176`` and ``mbv2-w0.3-r64`` under '# baseline models';
* the configs: mit-han-lab/tinyml @ e899b1bec08604910098ab6aab57bb30735dbb31,
  ``mcunet/assets/configs/proxyless-w0.3-r176_imagenet.json`` and ``mbv2-w0.3-r80_imagenet.json``, copied
  verbatim into ``mcunet_configs/``; the zoo (mit-han-lab/mcunet ``model_zoo.py``: ``proxyless-w0.3``
  = ``proxyless-w0.3-r176_imagenet``) and the tinyml README's 'Model List' (Proxyless-s w0.3-r176:
  38.3M MACs, 0.75M params; MbV2-s w0.3-r80: 7.3M MACs, 0.63M params);
* ``-r64``: the same network (the same weights: TinyEngine's flash for proxyless-w0.3-r64 and -r176
  differ by 2 kB) at a 64×64 input; a config's resolution is the one it was trained at.

Semantics as :mod:`simulator.networks.mcunet` (:func:`~simulator.networks.mcunet.proxyless_network`).
The zoo's ``mcunet-vww0/1/2`` (``mcunet-10fps_vww``, ``mcunet-5fps_vww``, ``mcunet-320kb-1mb_vww``) are
not here: their JSON configs are not in the zoo's repositories (only downloads from hanlab18.mit.edu).
"""

from __future__ import annotations

import json

from simulator.model.graph import Network
from simulator.model.registry import Resolution, register_network
from simulator.networks.mcunet import _config_text, proxyless_network

#: our name -> the config's file stem in ``mcunet_configs/``
TINYENGINE_BASELINES: dict[str, str] = {
    "proxyless_w03_r176": "proxyless-w0.3-r176_imagenet",
    "proxyless_w03_r64": "proxyless-w0.3-r176_imagenet",
    "mbv2_w03_r64": "mbv2-w0.3-r80_imagenet",
}


def baseline_config(name: str) -> dict:
    """The JSON net config behind ``name`` (a key of :data:`TINYENGINE_BASELINES`), as a fresh dict,
    without its skipped blocks: a block whose ``mobile_inverted_conv`` is a ``ZeroLayer`` computes
    ``res = x`` (``MobileInvertedResidualBlock.forward``, mit-han-lab/tinyml @ e899b1b
    ``mcunet/tinynas/nn/networks/proxyless_nets.py``): no layer, no parameter, no work."""
    config = json.loads(_config_text(TINYENGINE_BASELINES[name]))
    config["blocks"] = [block for block in config["blocks"]
                        if block["mobile_inverted_conv"]["name"] != "ZeroLayer"]
    return config


@register_network
def proxyless_w03_r176(resolution: Resolution = 176, num_classes: int = 1000) -> Network:
    """TinyEngine's ``proxyless-w0.3-r176``: the zoo's ``proxyless-w0.3`` (ProxylessNAS ×0.3), 176×176."""
    return proxyless_network(baseline_config("proxyless_w03_r176"), "proxyless_w03_r176", resolution,
                             num_classes)


@register_network
def proxyless_w03_r64(resolution: Resolution = 64, num_classes: int = 1000) -> Network:
    """TinyEngine's ``proxyless-w0.3-r64``: ``proxyless-w0.3`` at 64×64."""
    return proxyless_network(baseline_config("proxyless_w03_r64"), "proxyless_w03_r64", resolution,
                             num_classes)


@register_network
def mbv2_w03_r64(resolution: Resolution = 64, num_classes: int = 1000) -> Network:
    """TinyEngine's ``mbv2-w0.3-r64``: the zoo's MobileNetV2 ×0.3 (``mbv2-w0.3-r80_imagenet``) at 64×64."""
    return proxyless_network(baseline_config("mbv2_w03_r64"), "mbv2_w03_r64", resolution, num_classes)
