"""The model that fills what the rules miss: one linear classifier per field, from examples.

Features are character n-grams of the folded text (in hiragana, so katakana,
hiragana and kanji spellings share what they can) and the words' normalised
forms with their neighbours, from the morphological analysis, weighted by
TF-IDF. scikit-learn fits the vocabulary and trains the classifiers. Reading
one message is done here with plain dictionaries and NumPy, the same
arithmetic as scikit-learn's `transform` and `predict_proba` without their
per-call checks, which cost more than the arithmetic on a single message (a
test holds the two to the same numbers).
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:  # numpy loads with the model, not with the app (start-up time)
    import numpy as np

from .morph import Analysis
from .text import to_hiragana

CHAR_NGRAMS = (2, 3)
MIN_CHARS = 6  # below this a message is too short for the model to raise an alarm (rules still do)
ALPHA = 2e-5   # regularisation, chosen on the validation set (scripts/classify_accuracy.py)
EPOCHS = 15

Row = tuple["np.ndarray", "np.ndarray"]  # one message's features: column indices and weights


def char_features(doc: Analysis) -> list[str]:
    """Character n-grams of the folded text, katakana as hiragana."""
    text = " " + to_hiragana(doc.text) + " "
    lo, hi = CHAR_NGRAMS
    return [text[i:i + n] for n in range(lo, hi + 1) for i in range(len(text) - n + 1)
            if not text[i:i + n].isspace()]


def word_features(doc: Analysis) -> list[str]:
    """Normalised word forms and the pairs of neighbours, sentence by sentence."""
    out = []
    for sentence in doc.sentences:
        forms = [w.norm for w in sentence]
        out += ["w:" + f for f in forms]
        out += ["p:" + a + "|" + b for a, b in zip(forms, forms[1:])]
    return out


@dataclass
class _Block:
    """One fitted vectoriser, as plain lookups: term → column, column → idf."""

    analyzer: Callable[[Analysis], list[str]]
    columns: dict[str, int]
    idf: np.ndarray
    offset: int
    fitted: Any = None  # scikit-learn's vectoriser, kept to check `row` against

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without scikit-learn's object: reading a cached model imports no sklearn."""
        return {**self.__dict__, "fitted": None}

    def row(self, doc: Analysis) -> Row:
        import numpy as np

        get = self.columns.get
        cols, counts = [], []
        for term, n in Counter(self.analyzer(doc)).items():
            col = get(term)
            if col is not None:
                cols.append(col)
                counts.append(n)
        if not cols:
            return np.empty(0, np.int64), np.empty(0)
        idx = np.array(cols, np.int64)
        tf = 1.0 + np.log(np.array(counts, float))  # sublinear tf
        w = tf * self.idf[idx]
        return idx + self.offset, w / np.sqrt(w @ w)  # l2, as TfidfVectorizer(norm="l2")


class Features:
    """Both kinds of features, fitted once on all examples and shared by every field."""

    def __init__(self) -> None:
        self._blocks: list[_Block] = []
        self.width = 0

    def fit_transform(self, docs: list[Analysis]) -> Any:
        """Learn the vocabulary from `docs` and return their rows (a sparse matrix)."""
        from scipy.sparse import hstack
        from sklearn.feature_extraction.text import TfidfVectorizer

        parts, self._blocks, offset = [], [], 0
        for analyzer in (char_features, word_features):
            vec = TfidfVectorizer(analyzer=analyzer, sublinear_tf=True)
            parts.append(vec.fit_transform(docs))
            self._blocks.append(_Block(analyzer, dict(vec.vocabulary_), vec.idf_.copy(), offset,
                                       vec))
            offset += len(vec.vocabulary_)
        self.width = offset
        return hstack(parts).tocsr()

    def reference(self, docs: list[Analysis]) -> Any:
        """scikit-learn's own rows for `docs` (what `row` must equal; for tests)."""
        from scipy.sparse import hstack

        return hstack([b.fitted.transform(docs) for b in self._blocks]).tocsr()

    def row(self, doc: Analysis) -> Row:
        """One message's features."""
        import numpy as np

        parts = [b.row(doc) for b in self._blocks]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


@dataclass
class FieldModel:
    """One field's trained classifier, kept as plain arrays (features x labels)."""

    labels: list[str]
    weights: np.ndarray    # features x (labels, or 1 for two labels)
    intercept: np.ndarray
    fitted: Any = None     # scikit-learn's classifier, kept to check `scores` against

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "fitted": None}

    def scores(self, row: Row) -> dict[str, float]:
        """Each label's probability for one message."""
        import numpy as np

        idx, w = row
        z = w @ self.weights[idx] + self.intercept
        if len(self.labels) == 2:  # binary: one column, the second label's log-odds
            p = 1.0 / (1.0 + math.exp(-float(z[0])))
            return {self.labels[0]: 1.0 - p, self.labels[1]: p}
        # one-vs-rest, as SGDClassifier.predict_proba: each sigmoid, then normalised
        p = 1.0 / (1.0 + np.exp(-z))
        p /= p.sum()
        return dict(zip(self.labels, p.tolist()))


def train_field(x: Any, labels: list[str]) -> FieldModel:
    """Train one field's classifier (logistic loss, by SGD: fast enough for hot reload)."""
    import numpy as np
    from sklearn.linear_model import SGDClassifier

    clf = SGDClassifier(loss="log_loss", alpha=ALPHA, class_weight="balanced", max_iter=EPOCHS,
                        tol=None, random_state=0)
    clf.fit(x, labels)
    return FieldModel([str(c) for c in clf.classes_], np.ascontiguousarray(clf.coef_.T),
                      clf.intercept_.copy(), clf)
