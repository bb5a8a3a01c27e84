"""The model's own fast path reads a message exactly as scikit-learn would."""
from __future__ import annotations

import numpy as np
import pytest

from bot.nlu import Understanding


@pytest.fixture(scope="module")
def fresh(understanding):
    """Trained here (not read from a cache), so that scikit-learn's own objects are kept."""
    return Understanding(understanding.ruleset, understanding.examples)

MESSAGES = ["悪口を書かれて消してほしい", "もう疲れた、消えたい", "家の前にいるってDMが来た",
            "I want to die", "ありがとうございました", "ｼﾆﾀｲ", "漢字とカタカナとひらがな🥲"]


@pytest.mark.parametrize("text", MESSAGES)
def test_features_and_scores_match_scikit_learn(fresh, text):
    trained = fresh.train()
    analysis = fresh.analyse(text)
    idx, w = trained.features.row(analysis)
    dense = np.zeros(trained.features.width)
    dense[idx] = w
    reference = trained.features.reference([analysis]).toarray()[0]
    assert np.allclose(dense, reference)
    for name, model in trained.models.items():
        ours = model.scores((idx, w))
        theirs = model.fitted.predict_proba(reference.reshape(1, -1))[0]
        assert np.allclose([ours[label] for label in model.fitted.classes_], theirs), name


def test_a_model_read_from_the_cache_reads_as_the_trained_one(understanding, tmp_path):
    """Another process (a gunicorn worker) reads the pickled model instead of training."""
    first = Understanding(understanding.ruleset, understanding.examples, "k", tmp_path)
    first.train()
    assert len(list(tmp_path.glob("model-*.pickle"))) == 1
    from bot.nlu import classify
    classify._TRAINED.clear()
    second = Understanding(understanding.ruleset, understanding.examples, "k", tmp_path)
    trained = second.train()
    assert all(m.fitted is None for m in trained.models.values())  # from the file
    for text in MESSAGES:
        assert second(text).as_json() == first(text).as_json()


def test_checked_content_is_read_back_from_the_cache_and_a_broken_file_is_checked_again(
        tmp_path, monkeypatch):
    """A new process reads the rules and examples already checked by another; it reads alike."""
    from pathlib import Path

    import bot.nlu as nlu

    root = Path(__file__).resolve().parents[2]
    keywords, examples = root / "keywords.yaml", root / "examples"
    first, errors = nlu.load_understanding(keywords, examples, cache_dir=tmp_path)
    assert first is not None and not [e for e in errors if not e.warning]
    [cached] = tmp_path.glob("content-*.pickle")

    nlu._LOADED.clear()  # as in a new process
    monkeypatch.setattr(nlu, "read_rules", lambda _path: pytest.fail("checked again"))
    second, again = nlu.load_understanding(keywords, examples, cache_dir=tmp_path)
    assert second is not None and [str(e) for e in again] == [str(e) for e in errors]
    for text in MESSAGES:
        assert second(text).as_json() == first(text).as_json()

    monkeypatch.undo()
    cached.write_bytes(b"not a pickle")  # a partial write, a disk error
    nlu._LOADED.clear()
    third, _ = nlu.load_understanding(keywords, examples, cache_dir=tmp_path)
    assert third is not None and third("もう疲れた、消えたい").as_json() == first(
        "もう疲れた、消えたい").as_json()
