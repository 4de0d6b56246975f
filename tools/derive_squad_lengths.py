"""Derive the sequence-length histogram of MLPerf BERT's SQuAD v1.1 dev samples (the shipped
``simulator/model/sequence_lengths/squad-v1.1.csv``).

Method, as MLPerf's reference preprocesses the data set (mlcommons/inference
``language/bert/squad_QSL.py``: ``BertTokenizer(vocab.txt)``, ``max_seq_length=384``,
``max_query_length=64``, ``doc_stride=128``; ``language/bert/create_squad_data.py``
``read_squad_examples`` and ``convert_examples_to_features``): every question is tokenized
(uncased BERT WordPiece, truncated to 64 tokens), its paragraph split on whitespace (and U+202F)
into words and each word WordPiece-tokenized, the paragraph cut into spans of at most
``384 − len(query) − 3`` tokens at a stride of 128, and each span is one sample of
``[CLS] query [SEP] span [SEP]``: ``len(query) + len(span) + 3`` real tokens (the rest is padding).
The script prints the histogram (``length,samples``) of those real lengths.

Inputs (not shipped): SQuAD v1.1 dev, 48 articles and 10,570 questions, here rebuilt from the two
halves of bloomsburyai/question-generation@88cc78cb56123efdf20abb0f4640a0405f1291e3
``data/dev-v1.1.json`` + ``data/test-v1.1.json`` (the official dev set split by article: together
48 titles, 10,570 questions); the uncased BERT vocabulary (30,522 WordPieces) from
tingxinli1/ReadOIE ``bert-base-uncased/vocab.txt`` (two ``[unused]`` entries renamed, which no
text can match: ``[`` is split off as punctuation). The tokenizer below restates Google's
``tokenization.py`` (``BasicTokenizer`` + ``WordpieceTokenizer``), which ``BertTokenizer`` follows.

Usage: ``python tools/derive_squad_lengths.py VOCAB DEV.json [MORE.json ...] > squad-v1.1.csv``
"""

from __future__ import annotations

import collections
import json
import sys
import unicodedata

MAX_SEQ_LENGTH, MAX_QUERY_LENGTH, DOC_STRIDE = 384, 64, 128


def _is_whitespace(c: str) -> bool:
    return c in " \t\n\r" or unicodedata.category(c) == "Zs"


def _is_control(c: str) -> bool:
    return c not in "\t\n\r" and unicodedata.category(c).startswith("C")


def _is_punctuation(c: str) -> bool:
    cp = ord(c)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(c).startswith("P")


def _is_cjk(cp: int) -> bool:
    return any(lo <= cp <= hi for lo, hi in (
        (0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F), (0x2B740, 0x2B81F),
        (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F)))


def basic_tokens(text: str) -> list[str]:
    """Clean, space CJK characters, lower-case, strip accents, split off punctuation."""
    cleaned = []
    for c in text:
        cp = ord(c)
        if cp == 0 or cp == 0xFFFD or _is_control(c):
            continue
        cleaned.append(" " if _is_whitespace(c) else (f" {c} " if _is_cjk(cp) else c))
    out = []
    for token in "".join(cleaned).split():
        token = "".join(ch for ch in unicodedata.normalize("NFD", token.lower())
                        if unicodedata.category(ch) != "Mn")
        word: list[str] = []
        for ch in token:
            if _is_punctuation(ch):
                if word:
                    out.append("".join(word))
                    word = []
                out.append(ch)
            else:
                word.append(ch)
        if word:
            out.append("".join(word))
    return out


def wordpieces(token: str, vocab: set[str]) -> int:
    """Number of WordPieces of one basic token (greedy longest match first; [UNK] counts one)."""
    if len(token) > 100:
        return 1
    start, pieces = 0, 0
    while start < len(token):
        end = len(token)
        while end > start:
            piece = token[start:end] if start == 0 else "##" + token[start:end]
            if piece in vocab:
                break
            end -= 1
        if end == start:
            return 1  # the whole word is [UNK]
        pieces += 1
        start = end
    return pieces


def count_tokens(text: str, vocab: set[str]) -> int:
    return sum(wordpieces(token, vocab) for token in basic_tokens(text))


def sample_lengths(data: list[dict], vocab: set[str]) -> list[int]:
    """Real (unpadded) token counts of every feature ``convert_examples_to_features`` makes."""
    lengths = []
    for article in data:
        for paragraph in article["paragraphs"]:
            words, previous_space = [], True
            for c in paragraph["context"]:
                if c in " \t\r\n" or ord(c) == 0x202F:
                    previous_space = True
                elif previous_space:
                    words.append(c)
                    previous_space = False
                else:
                    words[-1] += c
            doc_tokens = sum(count_tokens(word, vocab) for word in words)
            for qa in paragraph["qas"]:
                query = min(count_tokens(qa["question"], vocab), MAX_QUERY_LENGTH)
                room = MAX_SEQ_LENGTH - query - 3
                start = 0
                while start < doc_tokens:
                    length = min(doc_tokens - start, room)
                    lengths.append(query + length + 3)
                    if start + length == doc_tokens:
                        break
                    start += min(length, DOC_STRIDE)
    return lengths


def main(argv: list[str]) -> None:
    with open(argv[0], encoding="utf-8") as handle:
        vocab = {line.rstrip("\n") for line in handle}
    data = []
    for path in argv[1:]:
        with open(path, encoding="utf-8") as handle:
            data += json.load(handle)["data"]
    histogram = collections.Counter(sample_lengths(data, vocab))
    print("length,samples")
    for length in sorted(histogram):
        print(f"{length},{histogram[length]}")


if __name__ == "__main__":
    main(sys.argv[1:])
