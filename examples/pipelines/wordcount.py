"""Count the words of a text: the smallest useful pipeline.

    pipeflow run examples/pipelines/wordcount.py --input '"the cat and the hat"'
"""

from __future__ import annotations

import re

import pipeflow as pf


@pf.task
def tokenize(text: str) -> list[str]:
    """Lower-case words, punctuation dropped."""
    return re.findall(r"[a-z0-9']+", text.lower())


@pf.task
def count(words: list[str]) -> dict[str, int]:
    """Occurrences of each word."""
    counts: dict[str, int] = {}
    for word in words:
        counts[word] = counts.get(word, 0) + 1
    return counts


@pf.task
def top(counts: dict[str, int], n: int = 10) -> list[list[object]]:
    """The `n` most frequent words as [word, count] pairs, most frequent first, ties alphabetical."""
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [[word, k] for word, k in ranked[:n]]


pipeline = pf.chain(tokenize, count, top.s(10))
