"""The model's own fast path reads a message exactly as scikit-learn would."""
from __future__ import annotations

import numpy as np
import pytest

MESSAGES = ["悪口を書かれて消してほしい", "もう疲れた、消えたい", "家の前にいるってDMが来た",
            "I want to die", "ありがとうございました", "ｼﾆﾀｲ", "漢字とカタカナとひらがな🥲"]


@pytest.mark.parametrize("text", MESSAGES)
def test_features_and_scores_match_scikit_learn(understanding, text):
    trained = understanding.train()
    analysis = understanding.analyse(text)
    idx, w = trained.features.row(analysis)
    dense = np.zeros(trained.features.width)
    dense[idx] = w
    reference = trained.features.reference([analysis]).toarray()[0]
    assert np.allclose(dense, reference)
    for name, model in trained.models.items():
        ours = model.scores((idx, w))
        theirs = model.fitted.predict_proba(reference.reshape(1, -1))[0]
        assert np.allclose([ours[label] for label in model.fitted.classes_], theirs), name
