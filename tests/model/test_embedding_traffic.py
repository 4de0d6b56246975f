"""An embedding lookup reads the rows it gathers, not its table (issue 18): one definition, on the kind
(:meth:`simulator.model.layers.Embedding.gathered_weight_elements`), used by the CNN/BERT engine path
and by the LLM phases alike; the parameters (model size) stay the whole table.

Hand-derived figures (BERT-base, ``bert-base-uncased``'s config): vocabulary ``V = 30522``, hidden
size ``E = 768``, 512 positions, 2 segment types; at 128 tokens a lookup gathers ``128·768`` elements,
196,608 bytes in fp16 (``2`` bytes each), where the whole table would be ``30522·768·2 = 46.9 MB``.
"""

from __future__ import annotations

import numpy as np
import pytest

from simulator.api import count
from simulator.catalog import build_network
from simulator.engine.configs import hardware_arrays
from simulator.engine.timing import roofline_timing
from simulator.engine.workload import build_workload
from simulator.hardware.loader import resolve_device
from simulator.llm.config import load_config
from simulator.llm.phases import phase_workload, run_phase
from simulator.llm.precision import HEAD_BITS
from simulator.model.layers import Embedding

VOCAB, HIDDEN, POSITIONS, SEGMENTS = 30522, 768, 512, 2   # bert-base-uncased config.json
SEQ = 128
FP16_BYTES_PER_ELEMENT = 16 / 8


def _bert_timing(batches: list[int]):
    """Workload of BERT-base at 128 tokens (inference view) and its roofline timing on Orin in fp16."""
    workload = build_workload(build_network("bert_base"))
    count_ = len(batches)
    hardware = hardware_arrays(resolve_device("jetson-agx-orin"), ["fp16"] * count_)
    bits = np.full(count_, 16.0)
    return workload, roofline_timing(workload, hardware, np.asarray(batches, dtype=float), bits, bits)


def test_kind_declares_the_gathered_rows():
    table = Embedding(VOCAB, HIDDEN)
    assert table.gathered_weight_elements(((SEQ,),)) == SEQ * HIDDEN      # L rows of E, not V·E


@pytest.mark.parametrize(("name", "rows"), [
    ("embeddings.word_embeddings", VOCAB),
    ("embeddings.position_embeddings", POSITIONS),
    ("embeddings.token_type_embeddings", SEGMENTS),
])
def test_bert_lookups_read_128_rows_per_sample(name, rows):
    batches = [1, 4]
    workload, timing = _bert_timing(batches)
    i = workload.names.index(name)
    assert workload.weight_elements[i] == 0                                   # never the table
    assert workload.gathered_weight_elements[i] == SEQ * HIDDEN
    for c, n in enumerate(batches):
        # n samples gather 128 rows each; 196,608 B at batch 1, whatever the table's V
        assert timing.weight_bytes[c, i] == n * SEQ * HIDDEN * FP16_BYTES_PER_ELEMENT
    assert timing.weight_bytes[0, i] != rows * HIDDEN * FP16_BYTES_PER_ELEMENT


def test_bert_word_embedding_moves_no_more_than_its_rows_and_output():
    """The layer's bytes: 128 ids in, 128·768 rows read, 128·768 written (all fp16 here)."""
    workload, timing = _bert_timing([1])
    i = workload.names.index("embeddings.word_embeddings")
    expected = (SEQ + SEQ * HIDDEN + SEQ * HIDDEN) * FP16_BYTES_PER_ELEMENT   # ids + rows + output
    assert timing.bytes_moved[0, i] == expected
    assert timing.bytes_moved[0, i] < VOCAB * HIDDEN * FP16_BYTES_PER_ELEMENT / 100


def test_parameters_are_still_the_whole_tables():
    """Model size counts ``V·E`` per table; BERT-base has 109,482,240 parameters (Hugging Face's count
    for bert-base-uncased, ``BertModel`` with pooler)."""
    counts = count("bert_base")
    by_name = {layer.name: layer.params for layer in counts.layers}
    assert by_name["embeddings.word_embeddings"] == VOCAB * HIDDEN
    assert by_name["embeddings.position_embeddings"] == POSITIONS * HIDDEN
    assert by_name["embeddings.token_type_embeddings"] == SEGMENTS * HIDDEN
    assert counts.params == 109_482_240
    assert build_workload(build_network("bert_base")).params == 109_482_240


@pytest.mark.parametrize("tokens", [1, 7, 512])
def test_llm_token_embedding_traffic_is_the_same_formula(tokens):
    """Cross-path: the LLM phase's embedding reads ``T·d`` rows per sequence, the kind's own formula,
    at the head precision (its table's), through the same engine term as BERT's lookups."""
    cfg = load_config("llama_3_8b")
    phase = phase_workload(cfg, tokens)
    i = next(k for k, kind in enumerate(phase.workload.kinds) if kind == "Embedding")
    table = Embedding(cfg.vocab_size, cfg.hidden_size)
    assert phase.workload.gathered_weight_elements[i] == table.gathered_weight_elements(((tokens,),))
    assert phase.workload.gathered_weight_elements[i] == tokens * cfg.hidden_size
    batch, weight_bits = np.array([1.0, 3.0]), np.array([16.0, 4.0])   # int4 weights: table stays 16-bit
    ev = run_phase(cfg, resolve_device("h100-sxm"), tokens, 1, np.array([0.0, 100.0]), batch, ["fp16"] * 2,
                   weight_bits, np.full(2, 16.0), np.full(2, 16.0), True, None)
    expected = batch * tokens * cfg.hidden_size * HEAD_BITS / 8
    np.testing.assert_allclose(ev.timing.weight_bytes[:, i], expected)
