"""The LM head's arithmetic, from its definition: a ``d -> V`` projection of each row it computes.

Llama-3-8B (Meta's config.json: hidden_size 4096, vocab_size 128256, untied): serving runtimes compute
the logits of the last token only in prefill (``last_only``), so the head costs ``V·d`` MACs per
sequence whatever the prompt length; a head over every token costs ``T·V·d``.
"""

from __future__ import annotations

import pytest

import simulator
from simulator.model.graph import NetworkBuilder

VOCAB, HIDDEN = 128_256, 4_096


@pytest.mark.parametrize("params", [{"phase": "prefill", "seq_len": 512}, {"phase": "prefill", "seq_len": 7},
                                    {"phase": "decode", "context": 1024}])
def test_llama_3_8b_head_costs_one_row_of_logits_per_sequence(params):
    counts = simulator.count("llama_3_8b", params=params)
    (head,) = [layer for layer in counts.layers if layer.kind == "LMHead"]
    assert head.macs == VOCAB * HIDDEN == 525_336_576
    assert head.params == VOCAB * HIDDEN
    assert head.flops == 2 * VOCAB * HIDDEN


@pytest.mark.parametrize(("tokens", "last_only", "rows"), [(16, False, 16), (16, True, 1), (1, False, 1)])
def test_a_head_over_every_token_costs_each_row(tokens, last_only, rows):
    """A hand-built head over ``tokens`` rows of width 64 into a vocabulary of 1000."""
    net = NetworkBuilder("head", (tokens, 64))
    net.lm_head(net.input, 1000, last_only=last_only, name="head")
    (head,) = simulator.count(net.build()).layers
    assert head.macs == rows * 1000 * 64
    assert head.output_elements == rows * 1000


# The head's weight traffic is the kind's own declaration (issue 18): V·d read once per pass, tied or not,
# + V with a bias; a tied head owns no parameters (they are the token embedding's).
@pytest.mark.parametrize(("model", "vocab", "hidden", "tied", "bias"), [
    ("llama_3_2_1b", 128_256, 2_048, True, False),   # meta-llama/Llama-3.2-1B: tie_word_embeddings true
    ("llama_3_8b", 128_256, 4_096, False, False),
    ("gpt_j_6b", 50_400, 4_096, False, True),         # EleutherAI/gpt-j-6b: lm_head has a bias of V
])
def test_the_head_declares_its_weight_read_and_the_phase_reads_it(model, vocab, hidden, tied, bias):
    from simulator.llm.config import load_config
    from simulator.llm.phases import phase_workload
    from simulator.model.layers import LMHead

    read = vocab * hidden + (vocab if bias else 0)
    head = LMHead(vocab, hidden, tied=tied, bias=bias)
    assert head.weight_read_elements() == read
    (params,) = [layer.params for layer in simulator.count(model).layers if layer.kind == "LMHead"]
    assert params == (0 if tied else vocab * hidden) + (vocab if bias else 0)
    workload = phase_workload(load_config(model), 1).workload
    assert workload.weight_elements[workload.kinds.index("LMHead")] == read
