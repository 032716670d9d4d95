"""POST /services/message-classifications and POST /services/dialect-detections through the app as the API
server mounts it, against the profile's business database: one row per message, 409 for another text under
a used id, 422 naming the field with nothing written, and the workflow steps storing the same rows."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient

from execution_plane.services.classification import classify_message_task
from execution_plane.services.dialect import detect_dialect_task
from include.services.classification.models import storage_key
from tests.plugins.services.conftest import bearer

CLASSIFY = "/services/message-classifications"
DETECT = "/services/dialect-detections"


@pytest.fixture
def tag(business_db: Any) -> Iterator[str]:
    value = uuid.uuid4().hex[:12]
    yield value
    with business_db.cursor() as cur:
        cur.execute("DELETE FROM message_classifications WHERE message_key LIKE %s", (f"%{value}%",))
        cur.execute("DELETE FROM dialect_detections WHERE text_key LIKE %s", (f"%{value}%",))


def classification_rows(business_db: Any, key: str) -> list[tuple[Any, ...]]:
    with business_db.cursor() as cur:
        cur.execute(
            "SELECT intent, channel, tags, model_version, classified_at FROM message_classifications"
            " WHERE message_key = %s",
            (key,),
        )
        return list(cur.fetchall())


def test_classifies_and_stores_one_row(
    services_client: TestClient, tokens: dict[str, str], business_db: Any, tag: str
) -> None:
    body = {
        "message_id": f"wa-{tag}",
        "text": "Please remove me from your mailing list.",
        "channel": "whatsapp",
    }
    first = services_client.post(CLASSIFY, json=body, headers=bearer(tokens["user"]))
    assert first.status_code == 200, first.text
    answer = first.json()
    assert answer["intent"] == "unsubscribe" and answer["stored"] == "created"
    assert answer["message_key"] == f"wa-{tag}" and answer["language"] == "en"
    [(intent, channel, tags, version, at)] = classification_rows(business_db, f"wa-{tag}")
    assert (intent, channel, version) == ("unsubscribe", "whatsapp", answer["model_version"])
    assert tags == answer["tags"]
    again = services_client.post(CLASSIFY, json=body, headers=bearer(tokens["service"]))
    assert again.status_code == 200
    assert again.json() == {**answer, "stored": "unchanged"}
    assert classification_rows(business_db, f"wa-{tag}") == [(intent, channel, tags, version, at)]


def test_without_an_id_the_text_is_the_key(
    services_client: TestClient, tokens: dict[str, str], business_db: Any, tag: str
) -> None:
    text = f"Can we schedule a call next Tuesday? ref {tag}"
    statuses = [
        services_client.post(CLASSIFY, json={"text": text}, headers=bearer(tokens["user"])).json()["stored"]
        for _ in range(2)
    ]
    assert statuses == ["created", "unchanged"]
    assert len(classification_rows(business_db, storage_key(None, text))) == 1


def test_another_text_under_a_used_id_is_409_and_changes_nothing(
    services_client: TestClient, tokens: dict[str, str], business_db: Any, tag: str
) -> None:
    key = f"mail-{tag}"
    services_client.post(
        CLASSIFY, json={"message_id": key, "text": "Count us in!"}, headers=bearer(tokens["user"])
    )
    before = classification_rows(business_db, key)
    refused = services_client.post(
        CLASSIFY, json={"message_id": key, "text": "Stop emailing me."}, headers=bearer(tokens["user"])
    )
    assert refused.status_code == 409
    assert refused.json()["field"] == "message_id" and refused.json()["error"] == "conflict"
    assert classification_rows(business_db, key) == before


def test_a_newer_model_updates_the_row(
    services_client: TestClient, tokens: dict[str, str], business_db: Any, tag: str
) -> None:
    key = f"sms-{tag}"
    body = {"message_id": key, "text": "I'm out of the office until Monday.", "channel": "sms"}
    services_client.post(CLASSIFY, json=body, headers=bearer(tokens["user"]))
    with business_db.cursor() as cur:  # as if an older model had answered
        cur.execute(
            "UPDATE message_classifications SET model_version = 'older', intent = 'question'"
            " WHERE message_key = %s",
            (key,),
        )
    answer = services_client.post(CLASSIFY, json=body, headers=bearer(tokens["user"])).json()
    assert answer["stored"] == "updated"
    [(intent, _, _, version, _)] = classification_rows(business_db, key)
    assert (intent, version) == ("out_of_office", answer["model_version"])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "text"),
        ({"text": "   "}, "text"),
        ({"text": "hello", "channel": "fax"}, "channel"),
        ({"text": "hello", "message_id": "has space"}, "message_id"),
        ({"text": "hello", "language": "en"}, "language"),
        ({"text": "x" * 10_001}, "text"),
    ],
)
def test_bad_input_is_422_naming_the_field_and_writes_nothing(
    services_client: TestClient,
    tokens: dict[str, str],
    business_db: Any,
    tag: str,
    body: dict[str, Any],
    field: str,
) -> None:
    with business_db.cursor() as cur:
        cur.execute("SELECT count(*) FROM message_classifications")
        before = cur.fetchone()[0]
    response = services_client.post(CLASSIFY, json=body, headers=bearer(tokens["user"]))
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field
    with business_db.cursor() as cur:
        cur.execute("SELECT count(*) FROM message_classifications")
        assert cur.fetchone()[0] == before


def test_concurrent_identical_requests_are_one_row(
    services_client: TestClient, tokens: dict[str, str], business_db: Any, tag: str
) -> None:
    body = {"message_id": f"race-{tag}", "text": "The price is too high compared to what we pay now."}

    def post(_: int) -> dict[str, Any]:
        response = services_client.post(CLASSIFY, json=body, headers=bearer(tokens["user"]))
        assert response.status_code == 200, response.text
        return dict(response.json())

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(post, range(8)))
    assert sorted(a["stored"] for a in answers) == ["created"] + ["unchanged"] * 7
    assert len({a["intent"] for a in answers}) == 1
    assert len(classification_rows(business_db, f"race-{tag}")) == 1


def test_the_workflow_step_stores_the_same_row(business_db: Any, tag: str) -> None:
    first = classify_message_task(
        {"message_id": f"task-{tag}", "text": "شيلوا رقمي من عندكم", "channel": "sms"}
    )
    assert first["intent"] == "unsubscribe" and first["language"] == "ar" and first["stored"] == "created"
    assert classify_message_task({"message_id": f"task-{tag}", "text": "شيلوا رقمي من عندكم"})["stored"] == (
        "unchanged"
    )
    assert len(classification_rows(business_db, f"task-{tag}")) == 1


def dialect_rows(business_db: Any, key: str) -> list[tuple[Any, ...]]:
    with business_db.cursor() as cur:
        cur.execute(
            "SELECT dialect, confidence, detected_at FROM dialect_detections WHERE text_key = %s", (key,)
        )
        return list(cur.fetchall())


def test_detects_and_stores_one_row(
    services_client: TestClient, tokens: dict[str, str], business_db: Any, tag: str
) -> None:
    body = {"text_id": f"msg-{tag}", "text": "شكو ماكو؟ اريد افتهم شنو صار هسه"}
    first = services_client.post(DETECT, json=body, headers=bearer(tokens["user"]))
    assert first.status_code == 200, first.text
    answer = first.json()
    assert (answer["dialect"], answer["stored"], answer["text_key"]) == ("iraqi", "created", f"msg-{tag}")
    assert "ماكو" in answer["markers"]["iraqi"]
    stored = dialect_rows(business_db, f"msg-{tag}")
    assert [(d, c) for d, c, _ in stored] == [("iraqi", answer["confidence"])]
    again = services_client.post(DETECT, json=body, headers=bearer(tokens["user"]))
    assert again.json() == {**answer, "stored": "unchanged"}
    assert dialect_rows(business_db, f"msg-{tag}") == stored


def test_rule_answers_are_stored_too(services_client: TestClient, tokens: dict[str, str], tag: str) -> None:
    english = services_client.post(
        DETECT, json={"text": f"Thanks, see you {tag}"}, headers=bearer(tokens["user"])
    )
    assert english.json()["dialect"] == "not_arabic"
    short = services_client.post(
        DETECT, json={"text_id": f"s-{tag}", "text": "مرحبا"}, headers=bearer(tokens["user"])
    )
    assert short.json()["dialect"] == "too_short" and short.json()["stored"] == "created"


def test_dialect_conflict_and_bad_input(
    services_client: TestClient, tokens: dict[str, str], business_db: Any, tag: str
) -> None:
    key = f"d-{tag}"
    services_client.post(
        DETECT, json={"text_id": key, "text": "شو بدك هلق يا زلمة"}, headers=bearer(tokens["user"])
    )
    refused = services_client.post(
        DETECT, json={"text_id": key, "text": "عايز أعرف دلوقتي"}, headers=bearer(tokens["user"])
    )
    assert (refused.status_code, refused.json()["field"]) == (409, "text_id")
    missing = services_client.post(DETECT, json={"text_id": f"e-{tag}"}, headers=bearer(tokens["user"]))
    assert (missing.status_code, missing.json()["field"]) == (422, "text")
    assert dialect_rows(business_db, f"e-{tag}") == []
    assert detect_dialect_task({"text_id": key, "text": "شو بدك هلق يا زلمة"})["stored"] == "unchanged"
