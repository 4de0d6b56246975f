"""In-flight batching at a steady state over a paged KV cache (:mod:`simulator.llm.serving`, issue 20).

Expected values are derived here by hand: KV bytes from the config (``2 · layers · kv_heads · head_dim ·
bytes``) and block arithmetic, the step from the static passes of :func:`simulate_llm`, the largest
concurrency from free memory / KV bytes per sequence.

MLPerf Inference Offline configurations (the submitters' config files; ``gpu_batch_size`` is the
TensorRT-LLM engine's maximum batch, the sequences in flight; ``offline_expected_qps`` the samples/s the
submitter set its run to expect, not an audited result):

* Llama-2-70B on 2 x H100-SXM (TP2, fp8): batch 896, 19 samples/s; on 1 x H200-SXM (TP1, fp8): batch
  806, 13.4 samples/s (``mlcommons/inference_results_v4.1`` @a2f5d66,
  ``closed/NVIDIA/configs/llama2-70b/Offline/__init__.py``, ``H100_SXM_80GB_TP2x1``, ``H200_SXM_141GBx1``);
* Mixtral-8x7B on H100-SXM (TP1, fp8): batch 896, 200 samples/s on 4 GPUs (same repository,
  ``closed/Fujitsu/configs/mixtral-8x7b/Offline/custom.py``, ``GX2560M7_H100_SXM_80GBX4``); on H200-SXM
  (TP1, fp8): batch 3072, 60 x 4 x 0.97 samples/s on 4 GPUs (``ntuhpc/mlperf_inference_results_v5.0``
  @cf35411, ``closed/Lenovo/configs/mixtral-8x7b/Offline/custom.py``, ``SR675V3_H200_SXMX4``).

Data sets: OpenOrca for Llama-2-70B, mean output 294.45 tokens per sample
(``mlcommons/inference`` ``language/llama2-70b/README.md``, "Tokens per sample: 294.45"); Mixtral's
OpenOrca + GSM8K + MBXP mix, mean output 144.84 (``language/mixtral-8x7b/README.md``,
``tokens_per_sample``). The mean INPUT lengths were not found in a primary source in this work: 294
tokens is used for both (the issue's figure for OpenOrca; for Mixtral an assumption). The fits below hold
up to a mean input of about 390 tokens (H200 Llama, the tightest at 806) — see
``test_mlperf_offline_fit_margin``.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from simulator.cli import main
from simulator.errors import SimulatorError
from simulator.hardware.loader import resolve_device
from simulator.llm import load_config, simulate_llm
from simulator.llm.memory import activation_bytes_per_sequence
from simulator.llm.phases import at_context, phase_workload
from simulator.llm.serving import (
    concurrency_for_target,
    mean_blocks_per_sequence,
    simulate_serving,
)

# Llama-2-70B: 80 layers, 8 KV heads of 128; 68,976,648,192 parameters of which 2 · 32,000 · 8,192 in the
# embedding and the LM head (Hugging Face's count, meta-llama/Llama-2-70b-hf config.json)
L70_KV_BYTES_PER_TOKEN_FP16 = 2 * 80 * 8 * 128 * 2  # K and V, fp16
L70_HEAD_PARAMS = 2 * 32_000 * 8_192
L70_PARAMS = 68_976_648_192
GIB = 2**30

MLPERF = [  # model, device, tp, concurrency, mean output tokens, samples/s per TP group
    ("llama_2_70b", "h100-sxm", 2, 896, 294, 19.0),
    ("llama_2_70b", "h200-sxm", 1, 806, 294, 13.4),
    ("mixtral_8x7b", "h100-sxm", 1, 896, 145, 200 / 4),
    ("mixtral_8x7b", "h200-sxm", 1, 3072, 145, 60 * 4 * 0.97 / 4),
]
MEAN_OUTPUT = {"llama_2_70b": 294.45, "mixtral_8x7b": 144.84}
MEAN_INPUT = 294


def test_paged_kv_bytes_of_a_sequence_by_block_arithmetic():
    """I = O = 294, 16-token blocks: over its life a sequence holds 294 … 587 tokens. ⌈t/16⌉ is 19 for
    t = 294 … 304 (11 values), 20 … 36 for 305 … 576 (17 full blocks of 16 values), 37 for 577 … 587
    (11 values): Σ = 11·19 + 16·(20 + … + 36) + 11·37 = 209 + 16·476 + 407 = 8,232 blocks over 294
    steps, a mean of exactly 28 blocks = 448 token slots (static batching reserves I + O = 588)."""
    assert mean_blocks_per_sequence(294, 294, 16) == 8_232 / 294 == 28
    per_sequence = 28 * 16 * L70_KV_BYTES_PER_TOKEN_FP16  # 146,800,640 B
    result = simulate_serving("llama_2_70b", "h200-sxm", 100, 294, 294, weight_precision="fp16")
    assert result.kv_bytes_per_sequence == per_sequence
    assert result.metrics["kv_cache_bytes"][0] == 100 * per_sequence
    # block size 1 is the exact token count: mean I + (O − 1)/2 = 294 + 146.5 tokens
    assert mean_blocks_per_sequence(294, 294, 1) == 294 + 293 / 2


def test_a_decode_batch_at_mixed_contexts_does_the_work_of_the_mean_context():
    """The equivalence the steady state rests on: per layer, a sequence's MACs, element-wise ops and KV
    elements at context c are a + s·c, so C sequences at c_1 … c_C do C·(a + s·c̄), the work of C
    sequences at c̄ = mean(c_i). Checked on the decode pass of Llama-2-70B at contexts 294 … 586."""
    cfg = load_config("llama_2_70b")
    phase = phase_workload(cfg, 1, 1)
    contexts = np.arange(294, 587, dtype=float)
    bits = np.full(len(contexts), 16.0)
    each = at_context(phase, contexts, bits)
    mean = at_context(phase, np.array([contexts.mean()]), bits[:1])
    for field in ("macs", "elementwise_ops", "kv_elements"):
        np.testing.assert_allclose(getattr(each, field).sum(axis=0), len(contexts) * getattr(mean, field)[0],
                                   rtol=1e-12)


@pytest.mark.parametrize("ideal", [True, False])
def test_a_steady_step_is_a_static_decode_step_at_the_mean_context_plus_the_prefill_share(ideal):
    """C = 128, I = 100, O = 64: the decoding sequences sit at c = 100 … 162, c̄ = 100 + (64 − 2)/2 = 131;
    C/O = 2 sequences start per step, prefilled together (n = 2, every step). So the step is a static
    decode step at batch 128 and prompt 131 (its TPOT for generate = 1, the step at c = P) plus the prefill
    of batch 2 at prompt 100 (its TTFT), with the runtime's fixed cost per pass counted once."""
    kw = {"weight_precision": "fp8", "ideal": ideal}
    serving = simulate_serving("llama_3_8b", "h100-sxm", 128, 100, 64, **kw)
    decode = simulate_llm("llama_3_8b", "h100-sxm", 128, 131, 1, **kw).metrics["tpot_s"][0]
    prefill = simulate_llm("llama_3_8b", "h100-sxm", 2, 100, 1, **kw).metrics["ttft_s"][0]
    eff = resolve_device("h100-sxm").efficiency
    overhead = 0.0 if ideal else float(eff.step_overhead_s)
    assert ideal or overhead > 0  # the expected model has one, so counting it once is checked
    step = decode + prefill - overhead
    assert serving.metrics["tpot_s"][0] == pytest.approx(step, rel=1e-12)
    assert serving.metrics["output_tokens_per_s"][0] == pytest.approx(128 / step, rel=1e-12)
    assert serving.metrics["ttft_s"][0] == pytest.approx(step, rel=1e-12)  # the step carrying its prefill
    # prompt tokens prefilled per step: C·I/O = 200 beside the 128 output tokens
    assert serving.metrics["total_tokens_per_s"][0] == pytest.approx((128 + 200) / step, rel=1e-12)


def test_the_largest_concurrency_that_fits_is_free_memory_over_kv_bytes_per_sequence():
    """Llama-2-70B, fp8 weights (embedding and LM head at 16 bits), fp8 KV, one H200 (141 GiB):
    weights = 524,288,000 · 2 B + 68,452,360,192 · 1 B; KV per sequence = 28 blocks · 16 · 163,840 B
    (I = O = 294, as above at 1 byte); pool = 0.9 · (capacity − weights − ⌈C/O⌉ prefill activations)."""
    weights = L70_HEAD_PARAMS * 2 + (L70_PARAMS - L70_HEAD_PARAMS) * 1
    kv = 28 * 16 * (L70_KV_BYTES_PER_TOKEN_FP16 // 2)
    act = activation_bytes_per_sequence(load_config("llama_2_70b"), 294, 1, 8)
    free = 141 * GIB - weights
    guess = math.floor(0.9 * (free - act) / kv)
    prompts = math.ceil(guess / 294)  # 4 prompts prefilled at once near the top
    expected = math.floor(0.9 * (free - prompts * act) / kv)
    assert math.ceil(expected / 294) == prompts
    result = simulate_serving("llama_2_70b", "h200-sxm", [expected, expected + 1], 294, 294,
                              weight_precision="fp8")
    assert result.max_concurrency == expected == 1_002
    assert result.metrics["fits"].tolist() == [True, False]


@pytest.mark.parametrize(("model", "device", "tp", "concurrency", "output", "qps"), MLPERF)
def test_mlperf_offline_configurations_are_accepted_and_fit(model, device, tp, concurrency, output, qps):
    """Each MLPerf Offline configuration fits as in-flight batching (static batching refuses both Llama
    ones: 588 tokens reserved per sequence) and its throughput is reported. Against the submitter's
    expected rate (samples/s x the data set's mean output tokens), the expected model gives:

    ====================  =======  ===========  =========  ======
    configuration         model    expected     ratio      ideal
    ====================  =======  ===========  =========  ======
    Llama-2-70B 2xH100    4,884    5,595 tok/s  0.87       1.97
    Llama-2-70B 1xH200    2,675    3,946        0.68       1.60
    Mixtral 1xH100        8,247    7,242        1.14       2.75
    Mixtral 1xH200        9,719    8,430        1.15       2.64
    ====================  =======  ===========  =========  ======

    (tokens/s per TP group, with the profiles fitted on every dataset row, MLPerf's v4.1 LLM rows
    among them; they move when the efficiency model is refitted, hence the factor-of-2 band). The
    mean input here is 294 for both (the Llama-2-70B rows of the dataset use OpenOrca's measured
    222.33, simulator/model/sequence_lengths/openorca-llama2-70b.csv; Mixtral's is not published).
    The ideal bound stays above every expected rate, as a bound must."""
    published = qps * MEAN_OUTPUT[model]
    result = simulate_serving(model, device, concurrency, MEAN_INPUT, output, tp=tp, weight_precision="fp8",
                              check_memory=True)
    assert result.metrics["fits"][0] and concurrency <= result.max_concurrency
    ratio = result.metrics["output_tokens_per_s"][0] / published
    assert 0.5 <= ratio <= 2.0  # the expected model within a factor of 2 (the table: where it stands)
    ideal = simulate_serving(model, device, concurrency, MEAN_INPUT, output, tp=tp, weight_precision="fp8",
                             ideal=True)
    assert ideal.metrics["output_tokens_per_s"][0] > published
    if model == "llama_2_70b":
        static = simulate_llm(model, device, concurrency, MEAN_INPUT, output, tp=tp, weight_precision="fp8")
        assert not static.metrics["fits"][0]


def test_mlperf_offline_fit_margin():
    """How far the fits rest on the assumed mean input (294): H200 Llama at 806 sequences still fits at a
    390-token mean, not at 406; a larger input leaves fewer blocks per sequence."""
    at = [simulate_serving("llama_2_70b", "h200-sxm", 806, i, 294, weight_precision="fp8")
          for i in (390, 406)]
    assert [bool(r.metrics["fits"][0]) for r in at] == [True, False]


def test_a_prompt_beyond_the_context_is_refused_in_one_line(capsys):
    with pytest.raises(SimulatorError, match="8,192"):
        simulate_serving("llama_3_8b", "h100-sxm", 8, [512, 9_000], 16)
    assert main(["llm", "llama_3_8b", "--device", "h100-sxm", "--serving", "--prompt", "9000",
                 "--generate", "10"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "9,009 positions" in err and "Traceback" not in err


def test_a_concurrency_that_does_not_fit_is_refused_with_the_largest_that_does(capsys):
    assert main(["llm", "llama_2_70b", "--device", "h200-sxm", "--weight-precision", "fp8", "--prompt", "294",
                 "--generate", "294", "--concurrency", "1003"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "largest concurrency that fits: 1,002" in err


def test_target_tpot_gives_the_largest_concurrency_meeting_it(capsys):
    best, result = concurrency_for_target("llama_3_8b", "h100-sxm", target_tpot_s=0.02, input_tokens=512,
                                          output_tokens=128)
    around = simulate_serving("llama_3_8b", "h100-sxm", [best, best + 1], 512, 128)
    assert around.metrics["tpot_s"][0] <= 0.02 < around.metrics["tpot_s"][1]
    assert result.concurrency.tolist() == [best]
    assert main(["llm", "llama_3_8b", "--device", "h100-sxm", "--prompt", "512", "--generate", "128",
                 "--target-tpot", "20ms"]) == 0
    assert f"largest concurrency meeting TPOT <= 20ms: {best:,}" in capsys.readouterr().out
    assert main(["llm", "llama_3_8b", "--device", "h100-sxm", "--target-tpot", "20"]) == 2
    assert "with a unit" in capsys.readouterr().err
    # a TTFT target (at the 99th percentile of the prompts 256 and 2,048) bounds the same way
    best, _ = concurrency_for_target("llama_3_8b", "h100-sxm", target_ttft_s=0.15, input_tokens=[256, 2_048],
                                     output_tokens=128)
    around = simulate_serving("llama_3_8b", "h100-sxm", [best, best + 1], [256, 2_048], 128)
    assert around.metrics["ttft_p_s"][0] <= 0.15 < around.metrics["ttft_p_s"][1]


def test_target_search_above_the_exhaustive_range_is_exact_at_its_edge():
    """GPT-2 on an H200 holds some 18,000 sequences of 128 + 128 tokens: above 4,096 the search runs on a
    grid and a bisection, and still returns C with TPOT(C) <= 20 ms < TPOT(C + 1)."""
    best, _ = concurrency_for_target("gpt2", "h200-sxm", target_tpot_s=0.02, input_tokens=128,
                                     output_tokens=128)
    assert best > 4_096
    around = simulate_serving("gpt2", "h200-sxm", [best, best + 1], 128, 128)
    assert around.metrics["tpot_s"][0] <= 0.02 < around.metrics["tpot_s"][1]


def test_chunked_prefill_spreads_a_prompt_over_steps_and_caps_what_the_budget_can_feed():
    """Budget T = 2,048 tokens per step, I = 1,000, O = 100: at C = 64 the prompt tokens wanted per step
    are 64 · 1000/100 = 640 <= 2,048 − 64, so all 64 stay in flight and a prompt takes ⌈1000/1984⌉ = 1
    step; at C = 1,000 they would be 10,000 > 1,048: the budget feeds ⌊2048 / (1 + 10)⌋ = 186 sequences."""
    result = simulate_serving("llama_3_8b", "h100-sxm", [64, 1_000], 1_000, 100, chunk_tokens=2_048)
    assert result.metrics["active"].tolist() == [64, 186]
    assert result.metrics["ttft_s"][0] == result.metrics["tpot_s"][0]
    budget = 2_048 - 186
    assert result.metrics["ttft_s"][1] == math.ceil(1_000 / budget) * result.metrics["tpot_s"][1]


def test_a_length_distribution_gives_a_ttft_percentile():
    """Prompts of 128 and 4,096 tokens: the mean TTFT lies between theirs, the 99th percentile near the
    long one's; every sequence gets the same step, so TPOT has no spread."""
    result = simulate_serving("llama_3_8b", "h100-sxm", 16, [128, 4_096], [64, 64])
    short = simulate_serving("llama_3_8b", "h100-sxm", 16, [128, 128], [64, 64])
    assert short.metrics["ttft_s"][0] < result.metrics["ttft_s"][0] < result.metrics["ttft_p_s"][0]
    assert result.input_tokens_mean == (128 + 4_096) / 2


def test_bad_serving_arguments_are_one_line(capsys):
    for args, words in ((["--concurrency", "8", "--batch", "4"], "--batch is static batching"),
                        (["--kv-memory-fraction", "1.5", "--serving"], "kv_memory_fraction"),
                        (["--chunk-tokens", "8", "--concurrency", "8"], "must exceed the concurrency"),
                        (["--serving", "--prompt", "12,x"], "--prompt")):
        assert main(["llm", "llama_3_8b", "--device", "h100-sxm", *args]) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and words in err


def test_static_batching_is_unchanged_without_serving_options(capsys):
    assert main(["llm", "llama_3_8b", "--device", "h100-sxm", "--batch", "4", "--prompt", "128",
                 "--generate", "8"]) == 0
    out = capsys.readouterr().out
    assert "in-flight" not in out and "max batch" in out


def test_results_are_immutable():
    result = simulate_serving("llama_3_8b", "h100-sxm", 4, 128, 16)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.max_concurrency = 1  # type: ignore[misc]
