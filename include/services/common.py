"""Shared by the services' rules: explained factors, business keys, the digest of an input."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from include.domain.common import canonical_json, sha256_hex


def _storable_text(value: str) -> str:
    """Text Postgres stores as it was sent: no NUL (text and jsonb refuse it), no lone UTF-16 surrogate."""
    if "\x00" in value:
        raise ValueError("NUL characters (\\u0000) are not accepted")
    if any("\ud800" <= ch <= "\udfff" for ch in value):
        raise ValueError("lone UTF-16 surrogates are not accepted")
    return value


# Free text that ends up in a row (a name, notes quoted in a score's factors).
Text = Annotated[str, AfterValidator(_storable_text)]

# A key from another system (CRM lead id, partner id, event id): printable, no spaces, bounded.
BusinessKey = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:@/-]{0,127}$")]


class Factor(BaseModel):
    """One reason in a score: ``points`` added (or taken away) and the sentence explaining them."""

    model_config = ConfigDict(frozen=True)

    name: str
    points: float
    max_points: float = Field(description="the most this factor can add")
    explanation: str


def clamp_score(value: float) -> int:
    """A score is a whole number from 0 to 100."""
    return max(0, min(100, round(value)))


def input_digest(rules_version: str, value: Any) -> str:
    """sha256 of what a result was computed from (the rules' version and the input, canonical JSON): the
    same request gives the same digest, so a repeated request is recognised and changes nothing."""
    payload = value.model_dump(mode="json") if hasattr(value, "model_dump") else value
    return sha256_hex(canonical_json({"rules": rules_version, "input": payload}))
