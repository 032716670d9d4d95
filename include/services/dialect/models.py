"""Inputs and outputs of dialect detection."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from include.services.common import BusinessKey, Text

Dialect = Literal["gulf", "egyptian", "levantine", "maghrebi", "iraqi", "msa"]
DIALECTS: tuple[str, ...] = Dialect.__args__  # type: ignore[attr-defined]
Verdict = Literal["gulf", "egyptian", "levantine", "maghrebi", "iraqi", "msa", "not_arabic", "too_short"]


class DialectIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    text: Text = Field(min_length=1, max_length=10_000)


class DialectResult(BaseModel):
    dialect: Verdict
    confidence: float = Field(
        ge=0,
        le=1,
        description="the model's probability of that dialect; for not_arabic/too_short, of the rule",
    )
    scores: dict[str, float] = Field(description="every dialect's probability (empty when a rule answered)")
    markers: dict[str, list[str]] = Field(description="dialect marker words found, by dialect")
    arabic_letters: int
    arabic_words: int
    arabic_share: float = Field(ge=0, le=1, description="Arabic letters / all letters")
    model_version: str


class DetectRequest(DialectIn):
    text_id: BusinessKey | None = Field(
        default=None,
        description="the text's id (a message id): the answer is stored under it (without one, under the "
        "text's sha256); the same id with another text is refused",
    )
