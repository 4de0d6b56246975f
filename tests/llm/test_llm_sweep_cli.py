"""``roofline sweep`` on LLM names: dispatched to :func:`simulator.llm.sweep_llm`."""

from __future__ import annotations

import itertools

import pandas as pd
import pytest

from simulator.cli import main
from simulator.llm import simulate_llm


def test_llm_sweep_writes_the_product_of_its_axes(tmp_path, capsys):
    path = tmp_path / "llm.csv"
    code = main(["sweep", "llama_3_8b", "--device", "h100-sxm", "--batch", "1..4", "--prompt", "128,512",
                 "--generate", "16", "--tp", "1,2", "--weight-precision", "fp16,int4", "-o", str(path)])
    assert code == 0 and "wrote 24 configurations" in capsys.readouterr().err
    table = pd.read_csv(path)
    # 3 batches x 2 prompts x 1 output length x 2 tp x 2 weight precisions
    assert len(table) == 3 * 2 * 1 * 2 * 2
    assert set(itertools.product([1, 2, 4], [128, 512], [1, 2], ["fp16", "int4"])) == set(
        zip(table["batch"], table["prompt"], table["tp"], table["weight_precision"], strict=True))
    row = table[(table.batch == 4) & (table.prompt == 512) & (table.tp == 2)
                & (table.weight_precision == "int4")]
    alone = simulate_llm("llama_3_8b", "h100-sxm", 4, 512, 16, tp=2, weight_precision="int4")
    assert row["tpot_s"].item() == pytest.approx(alone.metrics["tpot_s"][0], rel=1e-12)
    assert row["ttft_s"].item() == pytest.approx(alone.metrics["ttft_s"][0], rel=1e-12)


def test_llm_sweep_table_and_refusals(capsys):
    assert main(["sweep", "gpt2", "--device", "h100-sxm", "--batch", "1,8", "--prompt", "64"]) == 0
    out = capsys.readouterr().out
    assert "TPOT ms" in out and "2 configurations" in out
    assert main(["sweep", "resnet50", "--device", "h100-sxm", "--tp", "2"]) == 2
    assert "--tp applies to LLM networks only" in capsys.readouterr().err
    assert main(["sweep", "resnet50", "gpt2", "--device", "h100-sxm"]) == 2
    assert "not LLMs: resnet50" in capsys.readouterr().err
