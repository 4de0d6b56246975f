"""Derive a token-length histogram of an MLPerf LLM data set (the shipped
``simulator/model/sequence_lengths/openorca-llama2-70b*.csv`` and ``cnn-dailymail-llama3.1-8b.csv``).

Input (not shipped): a per-sample CSV of ``input_length,output_length`` token counts, one row per sample
of the MLPerf data set, as openshift-psap/performance-dashboard@7cd1065d1e2c53ee745cbda08e2a8f13a42c93bb
``mlperf-data/summaries/llama2-70b-99.csv`` and ``llama3-1-8b-datacenter.csv`` ship them (extracted by its
``mlperf-data/original/generate_dataset_summaries.py`` from MLCommons' preprocessed files: for OpenOrca
the ``tok_input_length`` and ``tok_output_length`` columns of
``open_orca_gpt4_tokenized_llama.sampled_24576.pkl``, for CNN-DailyMail ``len(tok_input)`` of
``cnn_eval.json``; that file's ``output_length`` is a characters / 4 estimate, not a token count,
and is not used).

Usage: ``python tools/derive_llm_lengths.py PER_SAMPLE.csv input_length|output_length > histogram.csv``;
prints ``length,samples`` rows (the header comments of the shipped files are written by hand).
"""

from __future__ import annotations

import collections
import csv
import sys


def histogram(path: str, column: str) -> collections.Counter[int]:
    with open(path, encoding="utf-8", newline="") as handle:
        return collections.Counter(int(row[column]) for row in csv.DictReader(handle))


def main(argv: list[str]) -> None:
    counts = histogram(argv[0], argv[1])
    print("length,samples")
    for length in sorted(counts):
        print(f"{length},{counts[length]}")


if __name__ == "__main__":
    main(sys.argv[1:])
