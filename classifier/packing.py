"""How a fitted feature union is pickled: each vectorizer's vocabulary as one string and an
array of offsets instead of a dict of tens of thousands of entries.

joblib unpickles with the pure-Python unpickler, which spent about 100 ms, most of a model's
load time, rebuilding those dicts one opcode at a time while a running server's requests
waited for the interpreter. A string and an array load in a few reads, and the dict is rebuilt
from them at C speed.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from sklearn.pipeline import FeatureUnion

_SLICE = 4096


@dataclass(frozen=True)
class PackedVocabulary:
    terms: str  # every term, in column order, one after another
    ends: NDArray[np.int64]  # where each term ends in `terms`

    @classmethod
    def of(cls, vocabulary: dict[str, int]) -> PackedVocabulary:
        ordered = [""] * len(vocabulary)
        for term, column in vocabulary.items():
            ordered[column] = term
        if sorted(vocabulary.values()) != list(range(len(vocabulary))):
            raise ValueError("a vocabulary's columns must be 0..n-1")
        lengths = np.fromiter(map(len, ordered), dtype=np.int64, count=len(ordered))
        return cls("".join(ordered), np.cumsum(lengths))

    def unpack(self) -> dict[str, int]:
        ends = self.ends.tolist()
        starts = [0, *ends[:-1]]
        vocabulary: dict[str, int] = {}
        # In slices: one C call over every term held the interpreter for ~10 ms, stalling a
        # running server's requests while a new model loaded beside them.
        for first in range(0, len(ends), _SLICE):
            last = min(first + _SLICE, len(ends))
            spans = map(slice, starts[first:last], ends[first:last])
            terms = map(self.terms.__getitem__, spans)
            vocabulary.update(zip(terms, range(first, last), strict=True))
        return vocabulary


def packed(union: FeatureUnion) -> FeatureUnion:
    """A copy of `union` whose vectorizers hold packed vocabularies; `union` is unchanged."""
    shell = copy.copy(union)
    shell.transformer_list = []
    for name, vectorizer in union.transformer_list:
        light = copy.copy(vectorizer)
        light.vocabulary_ = PackedVocabulary.of(vectorizer.vocabulary_)
        shell.transformer_list.append((name, light))
    return shell


def unpack(union: FeatureUnion) -> None:
    """Turn the packed vocabularies of an unpickled union back into dicts, in place."""
    for _, vectorizer in union.transformer_list:
        if isinstance(vectorizer.vocabulary_, PackedVocabulary):
            vectorizer.vocabulary_ = vectorizer.vocabulary_.unpack()
