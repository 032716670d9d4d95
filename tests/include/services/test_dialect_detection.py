"""Dialect detection: the rules (not Arabic, too short), marker words, and the shipped model's accuracy on
the held-out split of the shipped set, which must also be exactly what training gives."""

from __future__ import annotations

import math
from collections import Counter

import pytest
from pydantic import ValidationError

from include.services.dialect.detector import MIN_ARABIC_WORDS, MODEL_PATH, detect
from include.services.dialect.markers import markers
from include.services.dialect.models import DIALECTS, DialectIn
from include.services.dialect.training import evaluate_model, load_split, train_model
from include.services.text import dataset

# Measured 0.833 on 48 held-out texts (8 per dialect; model 117ec0b70f2a). One text is 2 points: 0.72 is
# about two standard errors below, and still fails for a broken feature (without marker words the same
# split gives ~0.56).
ACCURACY_FLOOR = 0.72
RECALL_FLOOR = 0.5


def test_latin_text_is_not_arabic() -> None:
    result = detect(DialectIn(text="Thanks, we will sign the contract next week"))
    assert result.dialect == "not_arabic"
    assert result.scores == {}
    assert result.confidence == 1.0


def test_arabizi_is_not_arabic() -> None:
    assert detect(DialectIn(text="ezayak ya basha, 3amel eh?")).dialect == "not_arabic"


def test_arabic_with_a_latin_brand_name_is_arabic() -> None:
    result = detect(DialectIn(text="عايز أعرف سعر باقة Zoom النهارده لو سمحت"))
    assert result.dialect == "egyptian"
    assert result.arabic_share > 0.5


@pytest.mark.parametrize("text", ["مرحبا", "شكرا جزيلا", "ok تمام"])
def test_short_arabic_is_too_short(text: str) -> None:
    result = detect(DialectIn(text=text))
    assert result.dialect == "too_short"
    assert result.arabic_words < MIN_ARABIC_WORDS


def test_digits_and_punctuation_only_are_not_arabic() -> None:
    assert detect(DialectIn(text="12345 !!!")).dialect == "not_arabic"


@pytest.mark.parametrize(
    ("text", "dialect", "word"),
    [
        ("أنا عايز أعرف دلوقتي", "egyptian", "دلوقتي"),
        ("شو بدك هلق", "levantine", "هلق"),
        ("وهلق شو", "levantine", "هلق"),  # the conjunction glued to the marker
        ("أبي أعرف الحين", "gulf", "الحين"),
        ("شكو ماكو هسه", "iraqi", "ماكو"),
        ("بغيت نعرف بزاف", "maghrebi", "بزاف"),
        ("نرجو إرسال العقد", "msa", "نرجو"),
    ],
)
def test_marker_words(text: str, dialect: str, word: str) -> None:
    assert word in markers(text)[dialect]


def test_a_shared_marker_counts_for_each_dialect() -> None:
    found = markers("شلونك")
    assert "شلونك" in found["gulf"] and "شلونك" in found["iraqi"]


@pytest.mark.parametrize(
    ("text", "dialect"),
    [
        ("إزيك يا باشا، أنا عايز أعرف هنمضي العقد إمتى", "egyptian"),
        ("كيفك؟ بدي أعرف شو صار بالعقد هلق", "levantine"),
        ("شكو ماكو؟ اريد افتهم شنو صار هسه", "iraqi"),
        ("بغيت نعرف واش كاين شي جديد دابا", "maghrebi"),
        ("نود إبلاغكم بأن الاجتماع سيعقد في موعده المحدد", "msa"),
        ("وش السالفة؟ أبي أعرف الحين وش صار", "gulf"),
    ],
)
def test_clear_texts(text: str, dialect: str) -> None:
    result = detect(DialectIn(text=text))
    assert result.dialect == dialect, result
    assert set(result.scores) == set(DIALECTS)
    assert math.isclose(sum(result.scores.values()), 1.0, abs_tol=1e-3)
    assert result.confidence == max(result.scores.values())


def test_dialect_in_refuses_empty_text() -> None:
    with pytest.raises(ValidationError, match="text"):
        DialectIn(text="")


def test_shipped_set_is_balanced() -> None:
    rows = dataset.load_jsonl(MODEL_PATH.parent / "data" / "dialects.jsonl")
    per_dialect = Counter(row["dialect"] for row in rows)
    assert set(per_dialect) == set(DIALECTS)
    assert min(per_dialect.values()) >= 40
    training, held_out = load_split()
    assert not {row["id"] for row in training} & {row["id"] for row in held_out}


def test_shipped_model_is_what_training_gives() -> None:
    assert train_model().to_json() == MODEL_PATH.read_text(encoding="utf-8")


def test_held_out_accuracy_floor() -> None:
    report = evaluate_model()
    assert report.overall.examples >= 48
    assert report.answered_by_rule == 0
    assert report.overall.accuracy >= ACCURACY_FLOOR, report.format()
    for dialect, scores in report.overall.per_class.items():
        assert scores.recall >= RECALL_FLOOR, (dialect, report.format())
