"""TinyEngine's baseline models (proxyless-w0.3-r176/-r64, mbv2-w0.3-r64): the zoo configs' per-block
formula and the mit-han-lab/tinyml README 'Model List' (e899b1b: Proxyless-s w0.3-r176 0.75M params,
38.3M MACs; MbV2-s w0.3-r80 0.63M params, 7.3M MACs), to its rounding."""

import pytest

from simulator.api import count
from simulator.networks.tinyengine_baselines import TINYENGINE_BASELINES, baseline_config


def _out(size, kernel, stride):
    """ProxylessNAS ``get_same_padding``: padding k // 2."""
    return (size + 2 * (kernel // 2) - kernel) // stride + 1


def _block_formula(config, side, classes=1000):
    """(params, MACs): k²·C·C' weights (depthwise k²·C) and 2 BatchNorm parameters per channel; MACs are
    the weights times the output positions; the classifier ``C·classes + classes``."""
    first = config["first_conv"]
    c, k = first["out_channels"], first["kernel_size"]
    h = _out(side, k, first["stride"])
    params, macs = k * k * 3 * c + 2 * c, k * k * 3 * c * h * h
    for block in config["blocks"]:
        m = block["mobile_inverted_conv"]
        mid = m["mid_channels"] or round(m["in_channels"] * m["expand_ratio"])
        if m["expand_ratio"] != 1:
            params += m["in_channels"] * mid + 2 * mid
            macs += m["in_channels"] * mid * h * h
        h = _out(h, m["kernel_size"], m["stride"])
        params += m["kernel_size"] ** 2 * mid + 2 * mid + mid * m["out_channels"] + 2 * m["out_channels"]
        macs += (m["kernel_size"] ** 2 * mid + mid * m["out_channels"]) * h * h
        c = m["out_channels"]
    mix = config["feature_mix_layer"]["out_channels"]
    params, macs = params + c * mix + 2 * mix, macs + c * mix * h * h
    return params + mix * classes + classes, macs + mix * classes


@pytest.mark.parametrize("name, side", [("proxyless_w03_r176", 176), ("proxyless_w03_r64", 64),
                                        ("mbv2_w03_r64", 64)])
def test_baselines_match_the_per_block_formula(name, side):
    counts = count(name)
    assert counts.layers[0].output_shape[-1] == _out(side, 3, 2)
    assert (counts.params, counts.macs) == _block_formula(baseline_config(name), side)


def test_baselines_match_the_tinyml_readme_to_its_rounding():
    proxyless = count("proxyless_w03_r176")
    assert (round(proxyless.params / 1e6, 2), round(proxyless.macs / 1e6, 1)) == (0.75, 38.3)
    mbv2_r80 = count("mbv2_w03_r64", resolution=80)            # the zoo's config was trained at 80
    assert (round(mbv2_r80.params / 1e6, 2), round(mbv2_r80.macs / 1e6, 1)) == (0.63, 7.3)


def test_skipped_blocks_of_the_proxyless_config_are_identities():
    # proxyless-w0.3's JSON has two ZeroLayer blocks with an identity shortcut: res = x, no layers
    assert TINYENGINE_BASELINES["proxyless_w03_r64"] == TINYENGINE_BASELINES["proxyless_w03_r176"]
    names = {layer.name.split(".")[1] for layer in count("proxyless_w03_r176").layers
             if layer.name.startswith("blocks.")}
    assert len(names) == len(baseline_config("proxyless_w03_r176")["blocks"])
    assert count("proxyless_w03_r64").params == count("proxyless_w03_r176").params
