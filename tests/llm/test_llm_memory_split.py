"""Memory split over devices and memories, against hand arithmetic: per-device weights under pipeline
parallelism, the largest batch, the numbers of the "does not fit" refusal, and weights + activations
summed where both live in one memory.

Counts used (Hugging Face's, also pinned in test_llm_core.py): Llama-3-8B 8,030,261,248 parameters;
Llama-2-70B 68,976,648,192. KV cache per token (fp16): ``2 (K, V) · layers · kv_heads · head_dim · 2 B``.
Prefill activations of a Llama layer at its peak: the residual stream ``d``, the fused gate-and-up
output ``2·I`` and the SwiGLU output ``I`` live together: ``P · (d + 3·I)`` elements per sequence.
"""

from __future__ import annotations

import pytest

from simulator.cli import main
from simulator.llm import LLMMemoryError, load_config, simulate_llm
from simulator.llm.memory import weight_bytes_per_device
from simulator.model.graph import NetworkBuilder
from simulator.simulation import simulate

LLAMA_3_8B_PARAMS = 8_030_261_248
LLAMA_2_70B_PARAMS = 68_976_648_192
GIB = 2**30


@pytest.mark.parametrize("pp", [1, 2, 4, 32])
def test_each_pipeline_stage_holds_its_share_of_the_weights(pp):
    # fp16 weights (the embedding and LM head stay at 16 bits too): 2 bytes per parameter, over pp stages
    cfg = load_config("llama_3_8b")
    assert weight_bytes_per_device(cfg, 1, pp, 16.0) == pytest.approx(LLAMA_3_8B_PARAMS * 2 / pp, rel=1e-12)


def test_pipeline_memory_per_device_and_largest_batch():
    # Llama-3-8B on 2 x H100 (80 GiB each), pp 2, prompt 1024 + generate 128, fp16
    result = simulate_llm("llama_3_8b", "h100-sxm", 8, 1024, 128, pp=2)
    weights = LLAMA_3_8B_PARAMS * 2 // 2                     # half the layers' weights per stage
    kv_seq = 2 * 32 * 8 * 128 * 2 * (1024 + 128) // 2        # half the layers' KV cache per stage
    act_seq = 1024 * (4096 + 3 * 14336) * 2                 # prefill peak, every stage (not split)
    assert result.metrics["memory_bytes"][0] == pytest.approx(weights + 8 * (kv_seq + act_seq), rel=1e-9)
    assert result.metrics["max_batch"][0] == (80 * GIB - weights) // (kv_seq + act_seq)   # = 452
    assert result.metrics["weight_bytes"][0] == pytest.approx(LLAMA_3_8B_PARAMS * 2, rel=1e-9)  # all stages


def test_refusal_message_gives_the_hand_derived_numbers(capsys):
    # Llama-2-70B fp16 on one Jetson AGX Orin (64 GiB), batch 1, prompt 2048 + generate 128
    weights = LLAMA_2_70B_PARAMS * 2                        # 137,953,296,384 B
    kv = 2 * 80 * 8 * 128 * 2 * (2048 + 128)                # 713,031,680 B
    act = 2048 * (8192 + 3 * 28672) * 2                     # 385,875,968 B
    total, capacity = weights + kv + act, 64 * GIB
    assert main(["llm", "llama_2_70b", "--device", "jetson-agx-orin"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert (f"weights {weights / 1e9:.2f} GB + KV cache {kv / 1e9:.2f} GB + activations {act / 1e9:.2f} GB "
            f"= {total / 1e9:.2f} GB > {capacity / 1e9:.2f} GB of dram; largest batch that fits: 0") in err
    assert "weights 137.95 GB + KV cache 0.71 GB + activations 0.39 GB = 139.05 GB > 68.72 GB" in err


def test_pipeline_refusal_message_counts_one_stage():
    # Llama-2-70B fp16 on 2 x H100 (pp 2), batch 512, prompt 2048 + generate 128: per device half the
    # weights and half the KV cache, the whole prefill peak of every sequence
    weights = LLAMA_2_70B_PARAMS * 2 // 2
    kv_seq = 2 * 80 * 8 * 128 * 2 * (2048 + 128) // 2
    act_seq = 2048 * (8192 + 3 * 28672) * 2
    capacity = 80 * GIB
    largest = (capacity - weights) // (kv_seq + act_seq)     # = 22
    with pytest.raises(LLMMemoryError) as error:
        simulate_llm("llama_2_70b", "h100-sxm", 512, 2048, 128, pp=2, check_memory=True)
    message = str(error.value)
    assert "does not fit on each of 2 h100-sxm" in message
    assert (f"weights {weights / 1e9:.2f} GB + KV cache {512 * kv_seq / 1e9:.2f} GB + activations "
            f"{512 * act_seq / 1e9:.2f} GB = {(weights + 512 * (kv_seq + act_seq)) / 1e9:.2f} GB > "
            f"{capacity / 1e9:.2f} GB") in message
    assert message.endswith(f"largest batch that fits: {largest} "
                            f"(try a smaller --weight-precision or more --tp)")
    assert largest == 22


def one_linear():
    """One Linear layer 4096 -> 4096 with bias: weights 4096·4096 + 4096, input and output of 4096 each
    live at once (the peak: 8192 elements per sample)."""
    net = NetworkBuilder("one_linear", (4096,))
    net.linear(net.input, 4096, name="fc")
    return net.build()


@pytest.mark.parametrize("batch", [1, 5_000_000])
def test_weights_and_activations_add_up_where_they_share_one_memory(batch):
    # Jetson AGX Orin: weights and activations both in its 64 GiB DRAM, so the check is their sum
    result = simulate(one_linear(), "jetson-agx-orin", batch=batch, precision="fp16", micro_batching=False)
    weights = (4096 * 4096 + 4096) * 2
    activations = batch * (4096 + 4096) * 2
    (check,) = result.memory
    assert check.level == "dram" and check.holds == "weights + peak activations"
    assert check.required_bytes == weights + activations
    assert check.capacity_bytes == 64 * GIB
    fits = weights + activations <= 64 * GIB                 # batch 5,000,000: 81.95 GB > 68.72 GB
    assert result.fits is fits and fits is (batch == 1)
    verdict = "fits in" if fits else "does NOT fit in"
    assert f"({weights + activations:,} bytes), {verdict} dram" in check.describe()
    assert check.describe().endswith(f"({64 * GIB:,} bytes)")
