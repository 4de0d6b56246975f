"""An LLM forward pass without a per-step catch-all: its kernels' rooflines (the projections' weights
streamed at the runtime's share of bandwidth), one launch per kernel counted from the built network,
and the runtime's documented host cost per pass. Expected values are counts by hand, the profile's
figures and NVIDIA's published tables, never the code's output."""

import pytest

from simulator.calibration.cv_llm import COMPUTE_LLM, GEMV_TRTLLM, HOST_STEP_TRTLLM, LLM_FAMILIES
from simulator.hardware.loader import resolve_device
from simulator.llm.config import load_config, parse_config
from simulator.llm.inference import simulate_llm
from simulator.llm.parallel import allreduce_launch_s
from simulator.llm.phases import kernels_per_step

TRT_LLM = ("a100-sxm-80gb", "a100-sxm-40gb", "h100-sxm", "h200-sxm")
LLAMA_2_7B_PARAMETERS = 6_738_415_616  # Hugging Face's count
LLAMA_2_7B_EMBEDDING = 32_000 * 4_096  # gathered: one row per token, not streamed
LLAMA_2_7B_NORMS = (2 * 32 + 1) * 4_096  # RMSNorm weights (norm kernels, not projections)
LLAMA_2_7B_KERNELS = 32 * 11 + 3  # per layer: 2 norms, qkv, rope, attention, o_proj, 2 adds,
#                                   gate_up, swiglu, down; then embedding, final norm, LM head


def test_kernels_per_step_are_counted_from_the_built_network():
    assert kernels_per_step(load_config("llama_2_7b")) == LLAMA_2_7B_KERNELS
    # Llama-2-70B on 4 GPUs: 80 layers x 11, plus one NCCL kernel per all-reduce: o_proj and down of
    # each layer (Megatron-LM) and the vocab-parallel embedding
    assert kernels_per_step(load_config("llama_2_70b"), 1, 4) == 80 * 11 + 3 + (2 * 80 + 1)


@pytest.mark.parametrize("name", TRT_LLM)
def test_llm_figures_lie_in_their_stated_physical_ranges(name):
    device = resolve_device(name)
    eff = device.efficiency
    # per-kernel launch cost without CUDA graphs: 2-10 us (CUDA Graphs blog: 3.8 us back to back,
    # 9.6 us with a synchronization after each launch)
    assert 2e-6 <= eff.kernel_overhead_s <= 10e-6
    # the runtime's host cost per pass: a few launches and one synchronization, not milliseconds
    assert HOST_STEP_TRTLLM.low <= eff.step_overhead_s <= HOST_STEP_TRTLLM.high == 100e-6
    assert GEMV_TRTLLM.low <= eff.for_class("gemv").bandwidth_fraction <= GEMV_TRTLLM.high
    # the GEMM-like kernels' share of the dense tensor peak in an LLM pass: 0.2-0.9
    assert (COMPUTE_LLM.low, COMPUTE_LLM.high) == (0.2, 0.9)
    assert COMPUTE_LLM.low <= eff.llm_compute_fraction <= COMPUTE_LLM.high
    # ring all-reduce: a per-message step of 1-10 us (NCCL's small-message figure), no fitted extra
    assert 1e-6 <= device.interconnect.latency_s <= 10e-6
    assert device.interconnect.allreduce_overhead_s == 0
    assert allreduce_launch_s(device) == eff.kernel_overhead_s  # one NCCL kernel's launch


def test_every_cross_validated_llm_figure_has_a_bounded_range():
    for family in LLM_FAMILIES:
        for parameter in family.parameters:
            assert parameter.low <= parameter.default <= parameter.high
            assert parameter.name != "allreduce_overhead_s"  # derived from the launch cost, not fitted
    trt = [f for f in LLM_FAMILIES if "TensorRT-LLM" in f.name]
    assert {d for f in trt for d in f.devices} == set(TRT_LLM)
    for family in trt:
        step = next(p for p in family.parameters if p.name == "step_overhead_s")
        assert step.high <= 100e-6  # a C++ loop's launches and one synchronization, not milliseconds


@pytest.mark.parametrize("name", ["a100-sxm-80gb", "h100-sxm"])
def test_batch1_decode_step_is_weight_stream_plus_launches_plus_host(name):
    """TPOT of Llama-2-7B fp16 at batch 1 over one cached token, by hand: the projections' weights
    (every parameter but the gathered embedding and the norms, 2 bytes each) at the profile's
    bandwidth x fraction, 355 launches, one host cost. KV, norms and activations add well under 1%."""
    device = resolve_device(name)
    eff = device.efficiency
    dram = next(m for m in device.memory_levels if m.name == "dram")
    weight_bytes = (LLAMA_2_7B_PARAMETERS - LLAMA_2_7B_EMBEDDING - LLAMA_2_7B_NORMS) * 16 / 8
    expected_s = (weight_bytes / (dram.bandwidth_bytes_per_s * eff.for_class("gemv").bandwidth_fraction)
                  + LLAMA_2_7B_KERNELS * eff.kernel_overhead_s + eff.step_overhead_s)
    tpot = simulate_llm("llama_2_7b", device, 1, 1, 2, weight_precision="fp16").metrics["tpot_s"][0]
    assert tpot == pytest.approx(expected_s, rel=0.01)


def test_a_compute_bound_prefill_computes_at_the_llm_compute_fraction():
    """Llama-2-7B FP8 on H100, a 2048-token prompt at batch 1: every GEMM-like kernel is compute-bound
    (a projection's M = 2048 tokens gives ~4,000 ops per weight byte against a ridge under 1,400 at
    these fractions), so TTFT(c = 0.25) - TTFT(c = 0.5) = ops / peak x (1/0.25 - 1/0.5), with ops counted
    by hand: the projections over 2048 tokens (32 layers of 4 d^2 + 3 d x 11008 MACs), the LM head on
    the last token only, causal attention's Q K^T and A V over the lower triangle (2048 x 2049 / 2 per
    head, 32 heads of 128), 2 ops a MAC, at the FP8 dense peak (1979 TFLOPS). The machine's fill of
    the many waves of thread blocks is within 2% of 1. Both fractions lie under the H100's
    power-limited share (max_power_w - static_power_w) / (tensor_energy_pj x 1979 TOPS), which caps
    any larger fraction (simulator.engine.power_limit)."""
    device = resolve_device("h100-sxm")
    d, inner, layers, heads, head_dim, prompt = 4096, 11008, 32, 32, 128, 2048
    macs = (prompt * layers * (4 * d * d + 3 * d * inner) + 32_000 * d
            + layers * 2 * heads * (prompt * (prompt + 1) // 2) * head_dim)
    assert device.peak_for("fp8") == 1979e12

    def ttft(fraction):
        changed = device.efficiency.model_copy(update={"llm_compute_fraction": fraction})
        dev = device.model_copy(update={"efficiency": changed})
        return simulate_llm("llama_2_7b", dev, 1, prompt, 1, weight_precision="fp8").metrics["ttft_s"][0]

    eff = device.efficiency
    power_share = ((device.max_power_w - device.static_power_w)
                   / (eff.tensor_energy_pj * 1e-12 * 1979e12))
    assert power_share > 0.5
    expected_s = 2 * macs / 1979e12 * (1 / 0.25 - 1 / 0.5)
    assert ttft(0.25) - ttft(0.5) == pytest.approx(expected_s, rel=0.02)


def test_a_runtime_files_gemm_factor_scales_the_llm_compute_fraction():
    """HuggingFace transformers on Orin runs the GEMM-like classes at its file's factor times the
    profile's figures: in an LLM pass that is the llm_compute_fraction (TinyChat's) times the factor."""
    from simulator.hardware.loader import resolve_runtime

    base = resolve_device("jetson-agx-orin").efficiency
    scaled = resolve_device("jetson-agx-orin@hf-transformers").efficiency
    factor = resolve_runtime("hf-transformers").compute_scale["gemm"]
    assert scaled.llm_compute_fraction == pytest.approx(min(base.llm_compute_fraction * factor, 1.0))


def test_fp8_decode_speedup_is_the_weight_bytes_halving():
    """H100, Llama-2-7B at batch 1: FP8 halves the streamed weight bytes and leaves the launches and
    the host cost as they are, so speed-up = (2W + F) / (W + F), W the FP8 stream, F the fixed part."""
    device = resolve_device("h100-sxm")
    eff = device.efficiency
    dram = next(m for m in device.memory_levels if m.name == "dram")
    stream_fp8_s = ((LLAMA_2_7B_PARAMETERS - LLAMA_2_7B_EMBEDDING - LLAMA_2_7B_NORMS) * 8 / 8
                    / (dram.bandwidth_bytes_per_s * eff.for_class("gemv").bandwidth_fraction))
    fixed_s = LLAMA_2_7B_KERNELS * eff.kernel_overhead_s + eff.step_overhead_s

    def tpot(precision):
        return simulate_llm("llama_2_7b", device, 1, 1, 2, weight_precision=precision).metrics["tpot_s"][0]

    speedup = tpot("fp16") / tpot("fp8")
    assert speedup == pytest.approx((2 * stream_fp8_s + fixed_s) / (stream_fp8_s + fixed_s), rel=0.02)
    assert fixed_s < 0.5 * stream_fp8_s  # the weight stream dominates a batch-1 step
    assert speedup > 1.6  # 1.31 with the fitted 2.6 ms per step this replaces


#: GPT-J 6B in GPT-2's layout (EleutherAI/gpt-j-6b: n_embd 4096, 16 heads, 28 layers, n_inner 4x,
#: vocab 50400, untied head); the weights streamed per token are GPT-J's to within the biases
GPT_J_6B = parse_config({"model_type": "gpt2", "n_embd": 4096, "n_head": 16, "n_layer": 28, "n_inner": 16384,
                         "n_positions": 2048, "vocab_size": 50400, "tie_word_embeddings": False}, "gpt-j-6b")


@pytest.mark.parametrize("name, precision, published_tokens_per_s", [
    # NVIDIA/TensorRT-LLM docs/source/blogs/H100vsA100.md@15ed78097ea2c14b3831ca017935a32dec54476e,
    # 'Max Throughput & Min Latency': GPT-J 6B, batch 1, input 128, TP1, SXM 80GB, TensorRT-LLM v0.5.0,
    # TensorRT 9.1 (output length not stated: 128, the table's other row)
    # out of sample since the profiles hold the fit of every llm.csv row (tools/fit_profiles.py; these two
    # published rows are not in the dataset). The GEMV share applies to decode passes only (a prefill's
    # projections are GEMMs of batch x tokens rows at the gemm class's streaming share), so the 128-token
    # TTFT rows (llm-016/018/049 on H100, llm-020/022/055 on A100, 2-3.5x their roofline time) no longer
    # set it: A100 +2.5% (Ampere share ~0.80). Hopper's is ~0.30, set by the TensorRT-LLM v0.6.1
    # Llama-2-70B long-decode rows (llm-006, llm-008: +118%/+14% even so), whose grouped-query
    # attention ran before TensorRT-LLM's XQA kernel (v0.8) and re-read each KV head per query head
    # (NVIDIA's XQA note: 2.4x on Llama-70B 128/2048), which the model does not represent; H100 FP8
    # comes out -27% (134 tok/s; the row implies a share near 0.47): a miss of the model, recorded,
    # not tuned (docs/out_of_sample.md)
    pytest.param("h100-sxm", "fp8", 185.0, marks=pytest.mark.xfail(
        strict=True, reason="Hopper GEMV share ~0.30, set by pre-XQA GQA rows: GPT-J decode ~-27%")),
    ("a100-sxm-80gb", "fp16", 111.0),
])
def test_batch1_decode_within_15_percent_of_nvidias_published_table(name, precision, published_tokens_per_s):
    """Out of sample: neither row is in the dataset the profiles' LLM terms are fitted on
    (tools/fit_profiles.py, every llm.csv row of the family). No per-step catch-all: the host cost per
    pass is bounded by its 0-100 us range, launches are counted kernel by kernel."""
    result = simulate_llm(GPT_J_6B, name, 1, 128, 128, weight_precision=precision)
    assert result.metrics["output_tokens_per_s"][0] == pytest.approx(published_tokens_per_s, rel=0.15)
