"""The out-of-sample band of a user's profile: one written with ``extends`` borrows its family's figure
(the class of the shipped device it extends, read here from ``out_of_sample.json`` directly) and
says so; one that extends nothing has no family and says it has no figure.

The profiles are written to a temporary folder and given to the CLI by path, as a user does."""

from __future__ import annotations

import json
from pathlib import Path

from simulator.cli import main
from simulator.hardware.error_band import NO_BAND

ROOT = Path(__file__).resolve().parents[2]
BANDS = json.loads((ROOT / "hardware_profiles" / "measurements" / "out_of_sample.json").read_text("utf-8"))
#: an H100 SXM at a lower Tensor Core clock: 1.5 GHz instead of 1.83 GHz (132 SMs x 2048 FP16 MAC
#: lanes x 2 ops x 1.5 GHz = 811 TFLOPS); a user's what-if, measured nowhere
SLOWER_H100 = 'extends = "h100-sxm"\n\n[peak]\nfp16_tera_ops_per_s = 811.0\n'


def simulate(capsys, profile: Path) -> tuple[str, dict | None]:
    """The trust line of ``roofline simulate resnet50 --device PROFILE`` and its JSON band."""
    argv = ["simulate", "resnet50", "--device", str(profile)]
    assert main([*argv, "--summary"]) == 0
    trust = next(line for line in capsys.readouterr().out.splitlines() if line.lstrip().startswith("trust"))
    assert main([*argv, "--format", "json"]) == 0
    return trust, json.loads(capsys.readouterr().out)["totals"]["expected_error_band"]


def class_text(cls: str) -> str:
    """How the trust line writes a class's figures: rounded percents, from the file, not the code."""
    figures = BANDS["classes"][cls]
    return (f"typically within ±{round(100 * figures['median_abs_error'])}% (median |error|; 90% of rows "
            f"within ±{round(100 * figures['p90_abs_error'])}%) on {figures['n']} {cls} measurements")


def test_a_profile_extending_a_shipped_device_gets_its_familys_band_and_says_so(capsys, tmp_path):
    profile = tmp_path / "slower-h100.toml"
    profile.write_text(SLOWER_H100, encoding="utf-8")
    trust, band = simulate(capsys, profile)
    cls = BANDS["devices"]["h100-sxm"]  # datacenter GPU
    assert class_text(cls) in trust and NO_BAND not in trust
    assert "its family's figure (its profile extends h100-sxm)" in trust and "no rows of its own" in trust
    assert band == {**BANDS["classes"][cls], "borrowed_from": "h100-sxm"}


def test_the_family_is_the_shipped_device_at_the_root_of_a_chain_of_files(capsys, tmp_path):
    base = 'extends = "jetson-agx-orin"\nstatic_power_w = 10\n'
    (tmp_path / "base.toml").write_text(base, encoding="utf-8")
    profile = tmp_path / "my-orin.toml"
    profile.write_text('extends = "base.toml"\n\n[peak]\nfp16_tera_ops_per_s = 40\n', encoding="utf-8")
    trust, band = simulate(capsys, profile)
    cls = BANDS["devices"]["jetson-agx-orin"]  # edge GPU
    assert class_text(cls) in trust and "its profile extends jetson-agx-orin" in trust
    assert band == {**BANDS["classes"][cls], "borrowed_from": "jetson-agx-orin"}


def test_a_profile_of_no_family_still_has_no_figure(capsys, tmp_path):
    # the same name first extends h100-sxm, then is rewritten as a whole profile that extends nothing
    # (the H100's own text under its own name): the second has no family, whatever was read before
    profile = tmp_path / "mygpu.toml"
    profile.write_text(SLOWER_H100, encoding="utf-8")
    assert simulate(capsys, profile)[1] is not None
    shipped = (ROOT / "hardware_profiles" / "h100-sxm.toml").read_text(encoding="utf-8")
    assert shipped.count('name = "h100-sxm"\n') == 1 and "extends" not in shipped
    profile.write_text(shipped.replace('name = "h100-sxm"\n', 'name = "mygpu"\n'), encoding="utf-8")
    trust, band = simulate(capsys, profile)
    assert NO_BAND in trust and "family's figure" not in trust
    assert band is None
