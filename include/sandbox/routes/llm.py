"""LLM provider with the OpenAI chat-completions shape. The answer is a pure function of the prompt, so a
workflow that re-asks after a crash gets the very same text, and tests can assert on it."""

from __future__ import annotations

import json
import time
from typing import Any

from pydantic import BaseModel, Field

from include.sandbox import derive
from include.sandbox.provider import CallDep, provider_router
from include.sandbox.state import stable_id

router = provider_router("llm", "/llm/v1", auth="bearer")


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
