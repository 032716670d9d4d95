from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

Count = Callable[[str, str], int]

PROMPT = (
    "Score partner Northwind GmbH.\n"
    "Annual revenue: 12,500,000 USD\n"
    "Employees: 45\n"
    "Growth was 12.5% in 2024; no compliance flags."
)


def _ask(client: TestClient, prompt: str = PROMPT, **extra: Any) -> dict[str, Any]:
    request = {
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "You are an analyst."},
            {"role": "user", "content": prompt},
        ],
        **extra,
    }
    response = client.post("/llm/v1/chat/completions", json=request)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_response_has_the_openai_shape(client: TestClient) -> None:
    body = _ask(client)
    assert body["object"] == "chat.completion"
    assert body["model"] == "gpt-4o-mini"
    assert body["id"].startswith("chatcmpl")
    choice = body["choices"][0]
    assert choice["message"]["role"] == "assistant"
    assert choice["finish_reason"] == "stop"
    usage = body["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] > 0


def test_the_same_prompt_gives_the_same_answer(client: TestClient) -> None:
    first, second = _ask(client), _ask(client)
    assert first["choices"] == second["choices"]
    assert first["id"] == second["id"]
    assert _ask(client, PROMPT + " Extra.")["choices"] != first["choices"]


def test_the_answer_echoes_the_facts_and_figures_of_the_last_user_message(client: TestClient) -> None:
    content = _ask(client)["choices"][0]["message"]["content"]
    assert content.startswith("Summary: Score partner Northwind GmbH.")
    for figure in ("12,500,000", "45", "12.5%", "2024"):
        assert figure in content
    assert "Annual revenue: 12,500,000 USD" in content
    assert "Reference: sbx-" in content
    assert "analyst" not in content


def test_json_mode_returns_parseable_json(client: TestClient) -> None:
    content = _ask(client, response_format={"type": "json_object"})["choices"][0]["message"]["content"]
    reply = json.loads(content)
    assert set(reply) == {"summary", "key_facts", "figures", "reference"}
    assert "12,500,000" in reply["figures"]


def test_each_completion_is_logged(client: TestClient, effect_count: Count) -> None:
    _ask(client)
    _ask(client)
    assert effect_count("llm", "completion") == 2


def test_bearer_token_is_required_and_an_api_key_is_not_enough(anon: TestClient) -> None:
    request = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    assert anon.post("/llm/v1/chat/completions", json=request).status_code == 401
    assert anon.post("/llm/v1/chat/completions", json=request, headers={"X-API-Key": "k"}).status_code == 401
    ok = anon.post("/llm/v1/chat/completions", json=request, headers={"Authorization": "Bearer sk-local"})
    assert ok.status_code == 200


def test_messages_are_required(client: TestClient) -> None:
    assert client.post("/llm/v1/chat/completions", json={"model": "m", "messages": []}).status_code == 422


def test_two_documents_are_answered_with_the_labelled_clauses_they_disagree_on(client: TestClient) -> None:
    prompt = (
        "Compare document A and document B. Answer with JSON only.\n\n"
        '<document id="A" kind="Term sheet" title="t">\n1| TERM SHEET\n2| Governing law: DIFC law\n'
        "3| Territory: Saudi Arabia\n</document>\n\n"
        '<document id="B" kind="CRM record" title="c">\n1| Territory: Saudi Arabia\n'
        "2| Governing law: English law\n</document>"
    )
    answer = _ask(client, prompt, response_format={"type": "json_object"})
    assert json.loads(answer["choices"][0]["message"]["content"]) == {
        "conflicts": [
            {
                "topic": "governing law",
                "a_line": 2,
                "a_quote": "Governing law: DIFC law",
                "b_line": 2,
                "b_quote": "Governing law: English law",
                "explanation": "governing law: 'DIFC law' in A, 'English law' in B",
            }
        ]
    }
