"""Message classification: cue and tag rules, the classifier's answer, and the shipped model's accuracy on
the held-out split of the shipped set (the floor below), which must also be exactly what training gives."""

from __future__ import annotations

import math
from collections import Counter

import pytest
from pydantic import ValidationError

from include.services.classification.classifier import MODEL_PATH, REVIEW_BELOW, classify, message_features
from include.services.classification.cues import cues
from include.services.classification.models import INTENTS, MessageIn
from include.services.classification.tags import tags
from include.services.classification.training import evaluate_model, load_split, train_model
from include.services.text import dataset

# Measured 0.894 on 85 held-out messages (model 363e4b42b48b). The model is deterministic, so this only
# moves when the code, the cues or the set change; 0.80 (about three standard errors of an 85-message
# estimate below) leaves room for new examples reshuffling the split, and still fails for a broken
# feature: without cue features the same split gives ~0.61, with a normalisation bug Arabic falls first.
ACCURACY_FLOOR = 0.80
ARABIC_FLOOR = 0.75
CLASS_RECALL_FLOOR = 0.6


@pytest.mark.parametrize(
    ("text", "intent", "phrase"),
    [
        ("Please REMOVE ME from this list", "unsubscribe", "remove me"),
        ("Opt me out.", "unsubscribe", "opt me out"),
        ("الغاء الاشتراك من فضلك", "unsubscribe", "الغاء الاشتراك"),
        ("إلغاء الاشتراك من فضلك", "unsubscribe", "الغاء الاشتراك"),  # hamza folded
        ("I'm out of the office until Monday", "out_of_office", "out of the office"),
        ("أنا في إجازة", "out_of_office", "اجازه"),
        ("Can we schedule a call?", "meeting_request", "schedule"),
        ("The price is too high", "objection", "too high"),
        ("Let's revisit next quarter", "not_now", "next quarter"),
        ("I was charged twice", "complaint", "charged twice"),
        ("Please speak with Sara", "referral", "speak with"),
        ("Count us in", "interested", "count us in"),
    ],
)
def test_cue_phrases(text: str, intent: str, phrase: str) -> None:
    assert phrase in cues(text)[intent]


def test_cues_match_whole_words_only() -> None:
    assert "unsubscribe" not in cues("a nonstop flight")
    assert "unsubscribe" in cues("stop.")
    assert cues("") == {}


@pytest.mark.parametrize(
    ("text", "tag"),
    [
        ("What is the commission rate?", "pricing"),
        ("كم السعر؟", "pricing"),
        ("Please send the contract", "contract"),
        ("أرسلوا العقد", "contract"),
        ("We already use a competitor", "competitor"),
        ("This is urgent", "urgent"),
        ("ضروري جداً", "urgent"),
        ("Under GDPR delete it", "data_privacy"),
        ("How about Tuesday at 3pm?", "scheduling"),
        ("موعد يوم الأحد", "scheduling"),
        ("write to dana@cedar.example", "contact_details"),
        ("call me on +971 4 555 0100", "contact_details"),
    ],
)
def test_tag_rules(text: str, tag: str) -> None:
    assert tag in tags(text)


def test_no_tag_without_its_words() -> None:
    assert tags("Thanks, talk soon") == []
    assert "contact_details" not in tags("order 12345")  # a short number is not a phone number


def test_features_weigh_cues_and_punctuation() -> None:
    features = message_features("Remove me? Now!")
    assert features["cue:unsubscribe"] > 1.0
    assert features["p:?"] == 1.0
    assert features["p:!"] == 1.0
    assert features["w:remove"] == 1.0


def test_classify_answers_with_every_score_and_review_flag() -> None:
    result = classify(MessageIn(text="Please remove me from your mailing list."))
    assert result.intent == "unsubscribe"
    assert set(result.scores) == set(INTENTS)
    assert math.isclose(sum(result.scores.values()), 1.0, abs_tol=1e-3)
    assert result.confidence == max(result.scores.values())
    assert result.needs_review is (result.confidence < REVIEW_BELOW)
    assert result.language == "en"
    assert len(result.model_version) == 12


def test_classify_arabic_and_low_confidence() -> None:
    assert classify(MessageIn(text="شيلوا رقمي من عندكم لو سمحتم")).intent == "unsubscribe"
    vague = classify(MessageIn(text="ok"))
    assert vague.needs_review and vague.confidence < REVIEW_BELOW


def test_message_in_refuses_empty_and_unknown_fields() -> None:
    with pytest.raises(ValidationError, match="text"):
        MessageIn(text="   ")
    with pytest.raises(ValidationError, match="extra"):
        MessageIn.model_validate({"text": "hi", "lang": "en"})
    with pytest.raises(ValidationError, match="channel"):
        MessageIn.model_validate({"text": "hi", "channel": "fax"})


def test_shipped_set_is_balanced_and_bilingual() -> None:
    rows = dataset.load_jsonl(MODEL_PATH.parent / "data" / "messages.jsonl")
    per_class = Counter(row["intent"] for row in rows)
    assert set(per_class) == set(INTENTS)
    assert min(per_class.values()) >= 40
    for intent in INTENTS:
        languages = Counter(row["lang"] for row in rows if row["intent"] == intent)
        assert languages["en"] >= 20 and languages["ar"] >= 20, intent
    training, held_out = load_split()
    assert not {row["id"] for row in training} & {row["id"] for row in held_out}


def test_shipped_model_is_what_training_gives() -> None:
    """A changed set, cue list or feature without `python -m include.services.classification train` fails."""
    assert train_model().to_json() == MODEL_PATH.read_text(encoding="utf-8")


def test_held_out_accuracy_floor() -> None:
    report = evaluate_model()
    assert report.overall.examples >= 80
    assert report.overall.accuracy >= ACCURACY_FLOOR, report.format()
    assert report.by_language["ar"] >= ARABIC_FLOOR, report.format()
    for intent, scores in report.overall.per_class.items():
        assert scores.recall >= CLASS_RECALL_FLOOR, (intent, report.format())
    # The review flag means something: confident answers are right far more often than flagged ones.
    assert report.accuracy_confident > report.accuracy_flagged
