"""Sanctions screening (a screening provider's stand-in, e.g. a consolidated-list API).

``POST /screenings`` screens a person and/or organisation against the provider's list and keeps the
screening as the compliance record (one effect per screening; an Idempotency-Key replays it). Names are
compared as sets of normalised words (case, accents, punctuation and legal suffixes such as Ltd or GmbH
ignored): every word of a listed name or alias present -> ``match``; at least half of a listed name's
words (two or more) -> ``potential_match`` (a person must look); otherwise ``clear``. The list holds a few
fictitious entries; ``POST /_sandbox/sanctions/entries`` adds one.
"""

from __future__ import annotations

import copy
import re
import unicodedata
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field, model_validator

from include.sandbox.provider import CallDep, ProviderError, provider_router
from include.sandbox.state import SandboxState, new_id, utc_now_iso

router = provider_router("sanctions", "/sanctions/v1")
control_router = APIRouter(prefix="/_sandbox/sanctions", tags=["sandbox control"])

LIST_NAME = "EP consolidated sanctions list (fictitious)"
DEFAULT_ENTRIES: tuple[dict[str, Any], ...] = (
    {"entry_id": "SAN-001", "name": "Viktor Drago Holdings", "aliases": ["Drago Holdings"], "country": "XX"},
    {"entry_id": "SAN-002", "name": "Marek Zolnai", "aliases": ["Marek Zolnay"], "country": "XX"},
    {"entry_id": "SAN-003", "name": "Orion Blackwater Trading", "aliases": [], "country": "XX"},
    {"entry_id": "SAN-004", "name": "Sable Finch Logistics", "aliases": ["Sable Finch"], "country": "XX"},
)
_SUFFIXES = {"ltd", "limited", "inc", "llc", "gmbh", "sa", "sas", "bv", "ag", "plc", "co", "corp", "fze"}


def words(name: str) -> frozenset[str]:
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return frozenset(w for w in re.findall(r"[a-z0-9]+", plain) if w not in _SUFFIXES)


def screen_name(name: str, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = words(name)
    hits = []
    for entry in entries:
        best = None
        for listed in (entry["name"], *entry.get("aliases", [])):
            listed_words = words(listed)
            shared = len(found & listed_words)
            if listed_words and listed_words <= found:
                best = "match"
                break
            if shared >= 2 and shared * 2 >= len(listed_words):
                best = best or "potential_match"
        if best:
            hits.append({"entry_id": entry["entry_id"], "listed_name": entry["name"], "strength": best})
    return hits


def _entries(resources: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        *copy.deepcopy(list(DEFAULT_ENTRIES)),
        *copy.deepcopy(list(resources["sanctions_entries"].values())),
    ]


class ScreeningIn(BaseModel):
    person_name: str | None = Field(default=None, min_length=1, max_length=300)
    organization: str | None = Field(default=None, min_length=1, max_length=300)
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    reference: str = Field(min_length=1, max_length=300)

    @model_validator(mode="after")
    def someone(self) -> ScreeningIn:
        if not (self.person_name or self.organization):
            raise ValueError("give person_name or organization")
        return self


@router.post("/screenings", status_code=201)
def screen(body: ScreeningIn, call: CallDep) -> dict[str, Any]:
    with call.state.transaction() as resources:
        entries = _entries(resources)
        matches = []
        for subject in (body.person_name, body.organization):
            if subject:
                matches += [{**hit, "screened": subject} for hit in screen_name(subject, entries)]
        strengths = {hit["strength"] for hit in matches}
        status = "match" if "match" in strengths else "potential_match" if matches else "clear"
        screening = {
            "screening_id": new_id("scr"),
            **body.model_dump(),
            "status": status,
            "matches": matches,
            "list": LIST_NAME,
            "screened_at": utc_now_iso(),
        }
        resources["screenings"][screening["screening_id"]] = screening
        call.record(screening["screening_id"], {**body.model_dump(), "status": status})
        return copy.deepcopy(screening)


@router.get("/screenings/{screening_id}")
def get_screening(screening_id: str, call: CallDep) -> dict[str, Any]:
    with call.state.view() as resources:
        screening = resources["screenings"].get(screening_id)
        if screening is None:
            raise ProviderError(404, "screening_not_found", f"screening {screening_id} not found")
        return copy.deepcopy(screening)


class EntryIn(BaseModel):
    name: str = Field(min_length=1, max_length=300)
    aliases: list[str] = Field(default_factory=list, max_length=20)
    country: str = Field(default="XX", pattern=r"^[A-Z]{2}$")


@control_router.post("/entries")
def add_entry(body: EntryIn, request: Request) -> dict[str, Any]:
    state: SandboxState = request.app.state.sandbox
    with state.transaction() as resources:
        entry = {"entry_id": f"SAN-X{len(resources['sanctions_entries']) + 1:03d}", **body.model_dump()}
        resources["sanctions_entries"][entry["entry_id"]] = entry
        return entry
