"""The shipped LLM length distributions (OpenOrca for MLPerf Llama-2-70B, CNN-DailyMail for Llama-3.1-8B) and
the GPT-J CNN-DailyMail summary, against the counts and limits their references set (issue #20).

Expected values come from the references, not from the files: MLPerf's sample counts (24,576 OpenOrca
samples, ``--total-sample-count``; 13,368 CNN-DailyMail validation samples), processorca.py's filters
(input and output each under 1,024 tokens, outputs of at least 3), GPT-J's truncation at 1,919 tokens and
its 30 to 128 new tokens.
"""

from __future__ import annotations

from fractions import Fraction

import pytest

from simulator.errors import SimulatorError
from simulator.model.length_summaries import SUMMARIES, load_length_summary
from simulator.model.lengths import DISTRIBUTIONS, load_distribution, parse_lengths

ORCA_SAMPLES = 4 * 6144        # processorca.py: equal samples from cot, flan, niv and t0
ORCA_LIMIT = 1024              # --seqlen_limit: tok_input_length and tok_output_length < 1024
CNN_SAMPLES = 13_368           # CNN-DailyMail v3.0.0 validation split


@pytest.mark.parametrize(("name", "samples", "shortest", "longest_below"), [
    ("openorca-llama2-70b", ORCA_SAMPLES, 1, ORCA_LIMIT),
    ("openorca-llama2-70b-output", ORCA_SAMPLES, 3, ORCA_LIMIT),   # filter_short_expected_response: >= 3
    ("cnn-dailymail-llama3.1-8b", CNN_SAMPLES, 1, None),
])
def test_llm_distributions_hold_every_sample_within_the_references_limits(name, samples, shortest,
                                                                          longest_below):
    lengths = load_distribution(name)
    assert lengths.samples == samples
    assert min(lengths.lengths) >= shortest
    if longest_below is not None:
        assert max(lengths.lengths) < longest_below
        assert lengths.padded_length == longest_below           # padded to the reference's limit
    else:
        assert lengths.padded_length == max(lengths.lengths)    # no truncation: the longest sample
    assert "full distribution" in lengths.source and "not a summary" in lengths.source
    assert parse_lengths(name) is lengths


def test_openorca_moments_are_exact_fractions_of_the_histogram():
    lengths = load_distribution("openorca-llama2-70b")
    total = sum(n * length for n, length in zip(lengths.counts, lengths.lengths, strict=True))
    assert lengths.mean_length == Fraction(total, ORCA_SAMPLES)
    # the prompts are shorter than the Llama-2 outputs the reference README reports (294.45 per sample)
    assert lengths.mean_length < Fraction(29445, 100)
    assert lengths.mean_square_length >= lengths.mean_length ** 2   # Var(L) >= 0


def test_gptj_cnn_dailymail_is_a_summary_of_the_references_bounds():
    summary = load_length_summary("cnn-dailymail-gptj")
    assert (summary.samples, summary.max_input_tokens) == (CNN_SAMPLES, 1919)   # dataset.py max_length
    assert (summary.min_output_tokens, summary.max_output_tokens, summary.beams) == (30, 128, 4)
    assert "SUMMARY" in summary.source and "not a distribution" in summary.source
    assert "cnn-dailymail-gptj" not in DISTRIBUTIONS and set(SUMMARIES) == {"cnn-dailymail-gptj"}


def test_unknown_names_are_refused_in_one_line_naming_the_shipped_ones():
    with pytest.raises(SimulatorError) as error:
        load_length_summary("openorca")
    assert "\n" not in str(error.value) and "cnn-dailymail-gptj" in str(error.value)
    with pytest.raises(SimulatorError) as error:
        load_distribution("cnn-dailymail-gptj")
    assert "\n" not in str(error.value) and "openorca-llama2-70b" in str(error.value)
