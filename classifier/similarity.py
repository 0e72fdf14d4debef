"""Near-duplicate complaints: word TF-IDF cosine similarity over a whole dataset."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

NEAR_DUPLICATE = 0.9
_BLOCK = 512  # rows per block, so memory stays at _BLOCK x n floats, not n x n


def near_duplicate_pairs(
    texts: Sequence[str], threshold: float = NEAR_DUPLICATE
) -> list[tuple[int, int, float]]:
    """(i, j, cosine) for every pair i < j whose word TF-IDF cosine exceeds `threshold`."""
    if len(texts) < 2:
        return []
    matrix = TfidfVectorizer(sublinear_tf=True).fit_transform(texts)
    pairs = []
    for start in range(0, len(texts), _BLOCK):
        block = (matrix[start : start + _BLOCK] @ matrix.T).toarray()
        rows, cols = np.nonzero(block > threshold)
        for row, col in zip(rows, cols, strict=True):
            i = start + int(row)
            if int(col) > i:
                pairs.append((i, int(col), float(block[row, col])))
    return sorted(pairs)
