"""Inputs and outputs of message classification."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from include.domain.common import sha256_hex
from include.services.common import BusinessKey, Text

Intent = Literal[
    "interested",
    "not_now",
    "question",
    "objection",
    "unsubscribe",
    "out_of_office",
    "complaint",
    "meeting_request",
    "referral",
]
INTENTS: tuple[str, ...] = Intent.__args__  # type: ignore[attr-defined]
Channel = Literal["email", "whatsapp", "sms", "other"]
Language = Literal["en", "ar", "mixed", "unknown"]


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    text: Text = Field(min_length=1, max_length=10_000, description="the message body, English and/or Arabic")
    channel: Channel = "email"


class Classification(BaseModel):
    intent: Intent
    confidence: float = Field(ge=0, le=1, description="the model's probability of that intent")
    needs_review: bool = Field(
        description="confidence below the review threshold: let a person (or an LLM) look"
    )
    scores: dict[str, float] = Field(description="every intent's probability")
    tags: list[str]
    cues: dict[str, list[str]] = Field(description="cue phrases found, by intent (what the model saw)")
    language: Language
    model_version: str


class ClassifyRequest(MessageIn):
    message_id: BusinessKey | None = Field(
        default=None,
        description="the message's id at its channel: the answer is stored under it (without one, under the "
        "text's sha256); the same id with another text is refused",
    )


def text_sha256(text: str) -> str:
    return sha256_hex(text.encode("utf-8"))


def storage_key(given_id: str | None, text: str) -> str:
    """The key a message's answer is stored under: the caller's id, else ``sha256:<hash of the text>``."""
    return given_id if given_id is not None else f"sha256:{text_sha256(text)}"
