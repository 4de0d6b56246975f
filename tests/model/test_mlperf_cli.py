"""Every MLPerf network of issue #20 (the SDXL pipeline's text encoders and VAE decoder included), and
SegNeXt-T, through the CLI: count, simulate, compare, sweep and export, each at a small size (the networks'
own parameters), exiting 0 (the SDXL pipeline's counts: tests/model/test_sdxl_pipeline.py; SegNeXt's:
tests/model/test_segnext.py)."""

from __future__ import annotations

import pytest

from simulator.cli import main

SMALL = {
    "retinanet": ["--resolution", "128"],
    "unet3d": ["--param", "patch_size=32"],
    "dlrm_v2": ["--param", "max_table_rows=1000"],
    "whisper_large_v3_encoder": [],
    "rnnt": ["--param", "frames=20", "--param", "symbols=5"],
    "sdxl_unet": ["--resolution", "128"],
    "sdxl_text_encoder": ["--seq-len", "16"],
    "sdxl_text_encoder_2": ["--seq-len", "8"],
    "sdxl_vae_decoder": ["--resolution", "128"],
    "segnext_t": ["--resolution", "128"],
}


@pytest.mark.parametrize("name", sorted(SMALL))
def test_networks_run_through_every_command(name, tmp_path, capsys):
    size = SMALL[name]
    assert main(["count", name, *size]) == 0
    assert main(["simulate", name, "--device", "h100-sxm", "--summary", *size]) == 0
    assert main(["compare", name, "--device", "h100-sxm,jetson-agx-orin", *size]) == 0
    assert main(["sweep", name, "--device", "h100-sxm", "--batch", "1,4", *size]) == 0
    assert name in capsys.readouterr().out
    pytest.importorskip("onnx")
    path = tmp_path / f"{name}.onnx"
    assert main(["export", name, "-o", str(path), "--no-weights", *size]) == 0
    assert path.stat().st_size > 0
