"""The shared text utilities: Arabic-aware normalisation, features, the linear model, evaluation, splits."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from include.services.text import dataset
from include.services.text.evaluation import evaluate
from include.services.text.features import char_ngrams, extract
from include.services.text.linear import LinearModel, TrainingConfig, cross_validate, softmax, train
from include.services.text.normalize import language, normalize, script_counts, words


def test_normalize_folds_arabic_spellings_and_drops_marks() -> None:
    assert normalize("أحمد إلى آخر") == "احمد الي اخر"  # alef forms, alef maqsura -> ya
    assert normalize("مدرسة") == "مدرسه"  # ta marbuta -> ha
    assert normalize("مُحَمَّدٌ") == "محمد"  # harakat, shadda, tanween
    assert normalize("جميـــل") == "جميل"  # tatweel
    assert normalize("٠٥٠١٢٣") == "050123"  # Arabic-Indic digits
    assert normalize("كتيييير soooo   GOOD") == "كتيير soo good"  # elongation squeezed, lower-cased
    assert normalize("ماذا؟") == "ماذا?"


def test_dialect_letters_are_kept() -> None:
    assert normalize("باچر گاعد") == "باچر گاعد"


def test_words_keep_inner_apostrophes_and_drop_punctuation() -> None:
    assert words("we don't, 'quote' now!") == ["we", "don't", "quote", "now"]
    assert words("هل،تم؟") == ["هل", "تم"]


def test_language_by_script() -> None:
    assert language("Hello there") == "en"
    assert language("مرحبا بكم") == "ar"
    assert language("مرحبا بكم in Dubai office today") == "mixed"
    assert language("12345 !!") == "unknown"
    assert script_counts("ab جد") == (2, 2)


def test_features_words_bigrams_and_char_ngrams() -> None:
    features = extract("Call me", char_sizes=(3,))
    assert {"w:call", "w:me", "b:call_me", "c:<ca", "c:all", "c:ll>", "c:<me", "c:me>"} <= features
    assert char_ngrams("ab", (4,)) == ["<ab>"]
    assert not any(name.startswith("b:") for name in extract("Call me", bigrams=False))
    assert extract("x", prefix="first.") == {"first.w:x", "first.c:<x", "first.c:x>", "first.c:<x>"}


def _toy() -> tuple[list[set[str]], list[str]]:
    samples = [
        {"w:yes", "w:please"},
        {"w:yes"},
        {"w:sure", "w:yes"},
        {"w:no"},
        {"w:no", "w:thanks"},
        {"w:never"},
    ]
    labels = ["pos", "pos", "pos", "neg", "neg", "neg"]
    return samples * 3, labels * 3


def test_linear_model_learns_and_is_deterministic() -> None:
    samples, labels = _toy()
    model = train(samples, labels, ["neg", "pos"], TrainingConfig(epochs=20, min_df=1))
    again = train(samples, labels, ["neg", "pos"], TrainingConfig(epochs=20, min_df=1))
    assert model.to_json() == again.to_json()
    probs = model.predict_proba({"w:yes"})
    assert probs["pos"] > 0.8
    assert math.isclose(sum(probs.values()), 1.0)
    assert model.predict_proba({"w:no"})["neg"] > 0.8
    # Nothing known: the bias alone answers, and the features known are counted.
    assert model.known_features({"w:unseen"}) == 0
    assert model.predict_proba({"w:unseen"}) == model.predict_proba(set())


def test_linear_model_weighted_features_count_more() -> None:
    samples, labels = _toy()
    model = train(samples, labels, ["neg", "pos"], TrainingConfig(epochs=20, min_df=1))
    mixed_even = model.predict_proba({"w:yes": 1.0, "w:no": 1.0})
    mixed_yes = model.predict_proba({"w:yes": 3.0, "w:no": 1.0})
    assert mixed_yes["pos"] > mixed_even["pos"]


def test_min_df_prunes_rare_features() -> None:
    samples, labels = _toy()
    samples = [*samples, {"w:once"}]
    labels = [*labels, "pos"]
    model = train(samples, labels, ["neg", "pos"], TrainingConfig(epochs=5, min_df=2))
    assert "w:once" not in model.weights
    assert model.meta["training_examples"] == len(samples)


def test_model_file_round_trip(tmp_path: Path) -> None:
    samples, labels = _toy()
    model = train(samples, labels, ["neg", "pos"], TrainingConfig(epochs=5, min_df=1))
    path = tmp_path / "model.json"
    model.save(path)
    json.loads(path.read_text())  # valid JSON, one feature per line
    loaded = LinearModel.load(path)
    assert loaded.classes == ["neg", "pos"]
    for features in ({"w:yes"}, {"w:no", "w:thanks"}):
        assert loaded.predict_proba(features) == pytest.approx(model.predict_proba(features), abs=1e-3)


def test_train_refuses_bad_labels() -> None:
    with pytest.raises(ValueError, match="outside the classes"):
        train([{"a"}], ["other"], ["x", "y"])
    with pytest.raises(ValueError, match="one label per sample"):
        train([{"a"}], [], ["x"])


def test_cross_validate_separable_data_is_accurate() -> None:
    samples, labels = _toy()
    assert cross_validate(samples, labels, ["neg", "pos"], 3, TrainingConfig(epochs=20, min_df=1)) == 1.0


def test_softmax_is_stable_for_large_scores() -> None:
    assert softmax([1000.0, 1000.0]) == [0.5, 0.5]


def test_evaluate_precision_recall_by_hand() -> None:
    truth = ["a", "a", "a", "b", "b", "c"]
    predicted = ["a", "a", "b", "b", "a", "c"]
    report = evaluate(truth, predicted, ["a", "b", "c"])
    assert report.accuracy == pytest.approx(4 / 6, abs=1e-4)
    assert report.per_class["a"].precision == pytest.approx(2 / 3, abs=1e-4)
    assert report.per_class["a"].recall == pytest.approx(2 / 3, abs=1e-4)
    assert report.per_class["b"].precision == 0.5
    assert report.per_class["b"].recall == 0.5
    assert report.per_class["c"].f1 == 1.0
    assert report.confusion["a"]["b"] == 1
    assert report.confusion["b"]["a"] == 1
    assert "accuracy 0.667" in report.format("t")


def test_evaluate_counts_a_prediction_outside_the_classes() -> None:
    report = evaluate(["a", "a"], ["a", "z"], ["a"])
    assert report.per_class["a"].recall == 0.5
    assert report.confusion["a"]["z"] == 1


def test_split_is_stratified_deterministic_and_by_id(tmp_path: Path) -> None:
    rows = [{"id": f"{label}-{i}", "label": label} for label in ("x", "y") for i in range(10)]
    train_rows, held_out = dataset.split(rows, "label")
    assert len(held_out) == 4 and sum(r["label"] == "x" for r in held_out) == 2
    assert dataset.split(list(reversed(rows)), "label")[1] == held_out  # file order does not matter
    assert {r["id"] for r in train_rows} | {r["id"] for r in held_out} == {r["id"] for r in rows}


def test_load_jsonl_refuses_duplicates_and_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "set.jsonl"
    path.write_text('{"id": "a"}\n{"id": "a"}\n')
    with pytest.raises(ValueError, match="duplicate ids"):
        dataset.load_jsonl(path)
    path.write_text('{"id": "a"}\nnot json\n')
    with pytest.raises(ValueError, match=r"set\.jsonl:2"):
        dataset.load_jsonl(path)


def test_light_stem_strips_the_article_and_glued_particles() -> None:
    from include.services.text.normalize import light_stem

    assert light_stem("والعقد") == "عقد"
    assert light_stem("بالعقد") == "عقد"
    assert light_stem("للشريك") == "شريك"
    assert light_stem("العموله") == "عموله"
    assert light_stem("وشركه") == "شركه"
    assert light_stem("ال") == "ال"  # nothing left to keep
    assert light_stem("الي") == "الي"  # fewer than three letters would remain
    assert light_stem("ولد") == "ولد"  # a short word keeps its first letter
    assert light_stem("invoice") == "invoice"


def test_content_words_drop_stopwords_in_both_languages() -> None:
    from include.services.text.normalize import content_words

    assert content_words("What is the fee of the contract?") == ["fee", "contract"]
    assert content_words("ما هي رسوم العقد؟") == ["رسوم", "عقد"]
