"""POST /services/lead-scores through the app as the API server mounts it, against the business database
and the sandbox's LLM (connection llm_default)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.plugins.services.conftest import bearer, count

ROUTE = "/services/lead-scores"
NOTES = (
    "Budget: approved 80k USD for Q3.\nTimeline: start in June.\nDecision maker: the CFO signs.\n"
    "Need: replacing spreadsheets"
)


def lead(tag: str, **overrides: Any) -> dict[str, Any]:
    return {
        "lead_id": f"L-{tag}",
        "company_name": "Acme",
        "company_size": 120,
        "industry": "Fintech",
        "source": "referral",
        "engagement": {"replies": 2, "meetings": 1},
        "notes": NOTES,
        **overrides,
    }


def rows(business_db: Any, tag: str) -> list[tuple[Any, ...]]:
    with business_db.cursor() as cur:
        cur.execute(
            "SELECT score, band, degraded, degraded_reason, scored_at, input_sha256 FROM lead_scores"
            " WHERE lead_key = %s",
            (f"L-{tag}",),
        )
        return list(cur.fetchall())


def llm_calls(sandbox: Any) -> int:
    return len(sandbox.effects(system="llm", action="completion"))


def test_scores_with_the_llm_reading_and_stores_one_row(
    services_client: TestClient, tokens: dict[str, str], sandbox: Any, business_db: Any, tag: str
) -> None:
    first = services_client.post(ROUTE, json=lead(tag), headers=bearer(tokens["user"]))
    assert first.status_code == 200, first.text
    body = first.json()
    factors = {f["name"]: f for f in body["factors"]}
    # Rules: 10 (120 employees) + 8 (fintech) + 12 (referral) + 14 (2 replies, 1 meeting) + 0; LLM: 4 x 10.
    assert body["score"] == 84 and body["band"] == "hot" and body["stored"] == "created"
    assert {factors[f"llm_{s}"]["points"] for s in ("budget", "timeline", "authority", "need")} == {10}
    assert factors["llm_authority"]["explanation"].endswith("('Decision maker: the CFO signs.')")
    assert body["degraded"] is False and body["llm_reference"].startswith("sbx-")
    assert llm_calls(sandbox) == 1
    [(score, band, degraded, _, scored_at, _)] = rows(business_db, tag)
    assert (score, band, degraded) == (84, "hot", False)

    again = services_client.post(ROUTE, json=lead(tag), headers=bearer(tokens["user"]))
    assert again.status_code == 200
    assert {**again.json(), "stored": None} == {**body, "stored": None}
    assert again.json()["stored"] == "unchanged"
    assert rows(business_db, tag)[0][4] == scored_at  # not rewritten
    assert llm_calls(sandbox) == 1  # and the LLM was not asked again


def test_new_data_updates_the_same_row(
    services_client: TestClient, tokens: dict[str, str], sandbox: Any, business_db: Any, tag: str
) -> None:
    services_client.post(ROUTE, json=lead(tag), headers=bearer(tokens["user"]))
    changed = services_client.post(
        ROUTE,
        json=lead(tag, notes="Budget: none this year.", stage="contacted"),
        headers=bearer(tokens["user"]),
    )
    assert changed.status_code == 200 and changed.json()["stored"] == "updated"
    assert changed.json()["score"] == 44 - 10  # rules 44, budget absent -10, the rest unknown
    [(score, *_)] = rows(business_db, tag)
    assert score == 34


def test_llm_error_gives_a_flagged_rules_only_score_and_recovers(
    services_client: TestClient, tokens: dict[str, str], sandbox: Any, business_db: Any, tag: str
) -> None:
    sandbox.post("/_sandbox/faults", {"system": "llm", "mode": "error", "status": 503, "count": 1})
    degraded = services_client.post(ROUTE, json=lead(tag), headers=bearer(tokens["user"]))
    assert degraded.status_code == 200
    body = degraded.json()
    assert body["degraded"] is True and "HTTP 503" in body["degraded_reason"]
    assert body["score"] == round(44 * 100 / 60) and body["band"] == "hot"
    assert body["factors"][-1]["name"] == "llm_judgement"
    [(_, _, stored_degraded, reason, _, _)] = rows(business_db, tag)
    assert stored_degraded is True and "HTTP 503" in reason
    failed = count(
        business_db,
        "SELECT count(*) FROM outside_calls WHERE system = 'llm_default' AND source = 'lead_scoring'"
        " AND NOT ok AND detail LIKE %s AND at > now() - interval '1 minute'",
        "%HTTP 503%",
    )
    assert failed >= 1

    # The same request once the LLM answers again replaces the degraded score.
    healed = services_client.post(ROUTE, json=lead(tag), headers=bearer(tokens["user"]))
    assert healed.json()["degraded"] is False and healed.json()["stored"] == "updated"
    assert healed.json()["score"] == 84
    assert rows(business_db, tag)[0][2] is False


def test_llm_timeout_gives_a_degraded_score_within_the_budget(
    services_client: TestClient, tokens: dict[str, str], sandbox: Any, tag: str
) -> None:
    import time

    sandbox.post("/_sandbox/faults", {"system": "llm", "mode": "slow", "delay_s": 6, "count": 1})
    started = time.monotonic()
    response = services_client.post(ROUTE, json=lead(tag), headers=bearer(tokens["user"]))
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert response.json()["degraded"] is True and "Timeout" in response.json()["degraded_reason"]
    assert elapsed < 5


def test_notes_with_nothing_to_read_ask_no_llm_and_are_not_degraded(
    services_client: TestClient, tokens: dict[str, str], sandbox: Any, tag: str
) -> None:
    response = services_client.post(ROUTE, json=lead(tag, notes="   "), headers=bearer(tokens["user"]))
    assert response.json()["degraded"] is False and response.json()["score"] == 44
    assert llm_calls(sandbox) == 0


def test_bad_input_is_a_422_naming_the_field_and_writes_nothing(
    services_client: TestClient, tokens: dict[str, str], sandbox: Any, business_db: Any, tag: str
) -> None:
    for field, value, name in (
        ("company_size", -5, "company_size"),
        ("engagement", {"replies": -1}, "engagement.replies"),
        ("lead_id", "bad id", "lead_id"),
        ("surprise", 1, "surprise"),
    ):
        response = services_client.post(
            ROUTE, json=lead(tag, **{field: value}), headers=bearer(tokens["user"])
        )
        assert response.status_code == 422, response.text
        assert response.json()["error"] == "invalid_request" and response.json()["field"] == name
    missing = lead(tag)
    del missing["company_name"]
    response = services_client.post(ROUTE, json=missing, headers=bearer(tokens["user"]))
    assert (response.status_code, response.json()["field"]) == (422, "company_name")
    assert rows(business_db, tag) == [] and llm_calls(sandbox) == 0


def test_the_task_function_is_the_same_scoring(sandbox: Any, business_db: Any, tag: str) -> None:
    from execution_plane.services.lead_scoring import score_lead_task

    first = score_lead_task(lead(tag))
    assert (first["score"], first["degraded"], first["stored"]) == (84, False, "created")
    assert score_lead_task(lead(tag))["stored"] == "unchanged"
    assert len(rows(business_db, tag)) == 1
