"""LLM provider with the OpenAI chat-completions and embeddings shapes. The answer is a pure function of the
prompt, so a workflow that re-asks after a crash gets the very same text, and tests can assert on it.
Embeddings: ``include.sandbox.embeddings`` (hashed words and trigrams; deterministic, meaningful for word
overlap).

A prompt that hands a draft between ``<draft>`` and ``</draft>`` asks for a rewrite (personalisation): the
sandbox cannot write, so it answers with the draft itself, whitespace tidied, and a workflow gets text in the
draft's language it can check and send.

A prompt that hands two documents as ``<document id="A">`` and ``<document id="B">`` (numbered lines,
``N| text``) asks for their contradictions (contradiction_scan): the sandbox cannot read meaning, so it
compares what the documents label alike: each ``Label: value`` line of A whose label B also has with another
value is a conflict, quoted with both lines, answered as JSON ``{"conflicts": [...]}``."""

from __future__ import annotations

import json
import re
import time
from typing import Any

from pydantic import BaseModel, Field

from include.sandbox import derive, embeddings
from include.sandbox.provider import CallDep, ProviderError, provider_router
from include.sandbox.state import stable_id

router = provider_router("llm", "/llm/v1", auth="bearer")
_DRAFT = re.compile(r"<draft>(.*?)</draft>", re.DOTALL)
_DOCUMENT = re.compile(r'<document id="(?P<id>[AB])"[^>]*>\n(?P<body>.*?)\n?</document>', re.DOTALL)
_CLAUSE = re.compile(r"^(?P<n>\d+)\| (?P<text>(?P<label>[^:\n]{1,60}):\s*(?P<value>\S.*))$", re.MULTILINE)


def _plain(text: str) -> str:
    return " ".join(text.split()).casefold().rstrip(".")


def contradictions(prompt: str) -> dict[str, Any] | None:
    """The labelled clauses two documents disagree on, or None when the prompt hands no two documents."""
    bodies = {match["id"]: match["body"] for match in _DOCUMENT.finditer(prompt)}
    if set(bodies) != {"A", "B"}:
        return None
    clauses: dict[str, dict[str, re.Match[str]]] = {}
    for doc_id, body in bodies.items():
        clauses[doc_id] = {}
        for match in _CLAUSE.finditer(body):
            clauses[doc_id].setdefault(_plain(match["label"]), match)
    conflicts = []
    for label in sorted(set(clauses["A"]) & set(clauses["B"])):
        a, b = clauses["A"][label], clauses["B"][label]
        if _plain(a["value"]) != _plain(b["value"]):
            conflicts.append(
                {
                    "topic": label,
                    "a_line": int(a["n"]),
                    "a_quote": a["text"].strip(),
                    "b_line": int(b["n"]),
                    "b_quote": b["text"].strip(),
                    "explanation": f"{label}: {a['value'].strip()!r} in A, {b['value'].strip()!r} in B",
                }
            )
    return {"conflicts": conflicts}


class ChatMessage(BaseModel, extra="allow"):
    role: str
    content: str | None = None


class ChatCompletionIn(BaseModel, extra="allow"):
    model: str = Field(min_length=1)
    messages: list[ChatMessage] = Field(min_length=1)
    response_format: dict[str, Any] | None = None


def _tokens(text: str) -> int:
    return max(1, round(len(text.split()) * 4 / 3))


@router.post("/chat/completions", name="completion")
def chat_completion(body: ChatCompletionIn, call: CallDep) -> dict[str, Any]:
    user_turns = [message for message in body.messages if message.role == "user"]
    prompt = (user_turns or body.messages)[-1].content or ""
    reply = derive.llm_reply(prompt)
    wants_json = (body.response_format or {}).get("type") in ("json_object", "json_schema")
    content = json.dumps(reply, sort_keys=True) if wants_json else derive.llm_text(reply)
    if (draft := _DRAFT.search(prompt)) is not None and not wants_json:
        content = "\n".join(line.strip() for line in draft.group(1).strip().splitlines())
    if (compared := contradictions(prompt)) is not None:
        content = json.dumps(compared, ensure_ascii=False, sort_keys=True)
    prompt_tokens = sum(_tokens(message.content or "") for message in body.messages)
    completion_tokens = _tokens(content)
    completion_id = stable_id("chatcmpl", body.model, prompt, wants_json)
    call.record(completion_id, {"model": body.model, "prompt_sha256": derive.hex_digest(prompt)})
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.model,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


class EmbeddingsIn(BaseModel, extra="allow"):
    model: str = Field(min_length=1)
    input: str | list[str] = Field(description="one text or up to 2,048 texts")
    dimensions: int | None = Field(default=None, ge=1, le=embeddings.MAX_DIMENSIONS)
    encoding_format: str = Field(default="float", pattern="^float$")


@router.post("/embeddings", name="embeddings")
def create_embeddings(body: EmbeddingsIn) -> dict[str, Any]:
    # A read, like the provider's: nothing is recorded in the effect log (retrieval embeds every chunk).
    texts = [body.input] if isinstance(body.input, str) else body.input
    if not 1 <= len(texts) <= 2048:
        raise ProviderError(400, "invalid_request", "input must hold 1 to 2,048 texts", param="input")
    if any(len(text) > 32_000 for text in texts):
        raise ProviderError(
            400, "invalid_request", "an input text is longer than 32,000 characters", param="input"
        )
    dimensions = body.dimensions or embeddings.DIMENSIONS
    tokens = sum(embeddings.token_count(text) for text in texts)
    return {
        "object": "list",
        "model": body.model,
        "data": [
            {"object": "embedding", "index": i, "embedding": embeddings.embed(text, dimensions)}
            for i, text in enumerate(texts)
        ],
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
