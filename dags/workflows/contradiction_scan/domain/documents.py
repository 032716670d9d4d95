"""A deal's documents as the scan compares them: what it asks for (``ScanRequest``), each document
(``Document``: its kind, where it came from, its text and content hash), the CRM record written out as a
document, the pairs, and the keys that make a comparison and a scan reusable.

Business records (the terms sent for signature, an offer's terms, DD findings) are written out as documents
too (``record_document``), so the rules and the model read them like any text.

A comparison is keyed by the pair's content hashes (in hash order), the model and the rules' version: the
same two texts compared under the same model and rules give the same answer, whatever deal or scan they
come from. A scan is keyed by the deal and the set of its documents' contents (its fingerprint): the same
documents again are the same scan, reported and told once.
"""

from __future__ import annotations

import hashlib
import json
import re
from decimal import Decimal
from itertools import combinations
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

ID_PATTERN = r"^(?!.*\.\.)[A-Za-z0-9._-]{1,64}$"

Kind = Literal["term_sheet", "signed_terms", "dd_findings", "ic_memo", "crm_record"]
KINDS: tuple[Kind, ...] = ("term_sheet", "signed_terms", "dd_findings", "ic_memo", "crm_record")
KIND_TITLES = {
    "term_sheet": "Term sheet",
    "signed_terms": "Signed terms",
    "dd_findings": "DD findings",
    "ic_memo": "IC memo",
    "crm_record": "CRM record",
}
# The kinds the deal's workflows store their documents under (the ledger's ``documents.kind``), read as the
# scan's kinds: partner_approval's and ma_offer's term sheets and offer letters, signature_commitment's
# terms sent for signature, dd_room's findings and IC memo.
LEDGER_KINDS: dict[str, Kind] = {
    "term_sheet": "term_sheet",
    "ma_offer_letter": "term_sheet",
    "signature_terms": "signed_terms",
    "signed_terms": "signed_terms",
    "dd_findings": "dd_findings",
    "ic_memo": "ic_memo",
}


class ScanError(ValueError):
    """Bad input: the message names the field."""


class ScanRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    deal_id: str
    document_kinds: list[Kind] = Field(default=list(KINDS), min_length=2)
    max_documents: int = Field(default=12, ge=2, le=30)

    @field_validator("deal_id")
    @classmethod
    def _deal_id(cls, value: str) -> str:
        if not re.fullmatch(ID_PATTERN, value):
            raise ValueError("a CRM deal id: 1-64 letters, digits, '.', '_' or '-' (no '..')")
        return value


def parse_request(params: dict[str, Any]) -> ScanRequest:
    """The run's params as a request; anything wrong raises ``ScanError`` naming the field."""
    try:
        request = ScanRequest.model_validate(params)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"]) or "params"
            problems.append(f"{field}: {str(error['msg']).removeprefix('Value error, ')}")
        raise ScanError("; ".join(problems)) from None
    if len(set(request.document_kinds)) != len(request.document_kinds):
        raise ScanError("document_kinds: each kind once")
    return request


class Document(BaseModel):
    model_config = ConfigDict(frozen=True)

    doc_id: str
    kind: Kind
    title: str
    source: str
    sha256: str
    text: str

    def lines(self) -> list[str]:
        return self.text.splitlines()

    def summary(self) -> dict[str, Any]:
        return {
            "doc_id": self.doc_id,
            "kind": self.kind,
            "title": self.title,
            "source": self.source,
            "sha256": self.sha256,
        }


def text_document(*, kind: str, title: str, source: str, data: bytes) -> Document | str:
    """A stored document as text, or the reason it cannot be compared (a PDF or other binary content:
    the scan reads text, JSON and Markdown)."""
    if data.startswith(b"%PDF"):
        return "a PDF (the scan reads text documents)"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return "not UTF-8 text"
    if "\x00" in text:
        return "binary content"
    if not text.strip():
        return "empty"
    sha = hashlib.sha256(data).hexdigest()
    scan_kind = LEDGER_KINDS[kind]
    return Document(
        doc_id=f"{scan_kind}:{sha[:12]}", kind=scan_kind, title=title, source=source, sha256=sha, text=text
    )


_CRM_LABELS = [
    ("name", "Deal"),
    ("stage", "Stage"),
    ("buyer", "Buyer"),
    ("seller", "Seller"),
    ("target", "Target"),
    ("amount", "Deal amount"),
    ("closing_date", "Closing date"),
    ("exclusivity", "Exclusivity"),
    ("territory", "Territory"),
    ("owner_email", "Owner"),
]
_CRM_SKIPPED = {"deal_id", "status", "amount_usd", "currency", "updated_at", "created_at"}


def _shown(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(_shown(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return str(value)


def crm_document(deal_id: str, record: dict[str, Any]) -> Document:
    """The CRM's deal record written out as a document, one ``Label: value`` line per field (known fields
    first, the rest in name order), so its lines can be quoted like any other document's."""
    fields = dict(record)
    if "amount" not in fields and fields.get("amount_usd") is not None:
        currency = str(fields.get("currency") or "USD")
        fields["amount"] = f"{currency} {int(fields['amount_usd']):,}"
    lines = [f"CRM record of deal {deal_id}"]
    for name, label in _CRM_LABELS:
        if fields.get(name) not in (None, "", []):
            lines.append(f"{label}: {_shown(fields[name])}")
    known = {name for name, _ in _CRM_LABELS} | _CRM_SKIPPED
    for name in sorted(set(fields) - known):
        if fields[name] not in (None, "", []):
            lines.append(f"{name.replace('_', ' ').capitalize()}: {_shown(fields[name])}")
    data = ("\n".join(lines) + "\n").encode()
    return Document(
        doc_id=f"crm_record:{deal_id}",
        kind="crm_record",
        title=f"CRM record of {deal_id}",
        source=f"crm://deals/{deal_id}",
        sha256=hashlib.sha256(data).hexdigest(),
        text=data.decode(),
    )


_UNIT_SUFFIX = re.compile(r"_(?:(?P<currency>usd|sar|aed|eur|gbp|egp|qar|kwd)|(?P<period>days|months))$")


def _number(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return None
    return f"{int(value):,}" if value == int(value) else f"{value:,}"


def _record_lines(fields: dict[str, Any], prefix: str = "") -> list[str]:
    lines = []
    for name in sorted(fields):
        value = fields[name]
        if value in (None, "", [], {}):
            continue
        if isinstance(value, dict):
            lines += _record_lines(value, f"{prefix}{name} ")
            continue
        label = f"{prefix}{name}"
        unit = _UNIT_SUFFIX.search(name)
        if unit is not None and (number := _number(value)) is not None:
            label = label[: -len(unit.group(0))]
            value = (
                f"{unit['currency'].upper()} {number}" if unit["currency"] else f"{number} {unit['period']}"
            )
        label = label.replace("_", " ").strip()
        lines.append(f"{label[:1].upper()}{label[1:]}: {_shown(value)}")
    return lines


def record_document(*, kind: Kind, title: str, source: str, fields: dict[str, Any]) -> Document:
    """A business record (the terms a workflow sent for signature, an offer's terms, DD findings) written
    out as a document, one ``Label: value`` line per field in name order (nested fields prefixed by their
    parent's name), amounts of ``*_usd`` / ``*_sar`` / ... fields with their currency, ``*_days`` /
    ``*_months`` fields as periods."""
    data = ("\n".join([title, *_record_lines(fields)]) + "\n").encode()
    sha = hashlib.sha256(data).hexdigest()
    return Document(
        doc_id=f"{kind}:{sha[:12]}", kind=kind, title=title, source=source, sha256=sha, text=data.decode()
    )


def pairs(documents: list[Document]) -> list[tuple[Document, Document]]:
    """Every pair once, each in content-hash order (the order its comparison is cached in); two documents
    with the same content are one document."""
    unique = {d.sha256: d for d in sorted(documents, key=lambda d: d.doc_id)}
    ordered = [unique[sha] for sha in sorted(unique)]
    return list(combinations(ordered, 2))


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def comparison_key(sha_a: str, sha_b: str, model: str, rules_version: str) -> str:
    first, second = sorted((sha_a, sha_b))
    return _digest("comparison", first, second, model, rules_version)


def fingerprint(documents: list[Document], model: str, rules_version: str) -> str:
    """The set of the documents' contents (with the model and rules that compare them)."""
    return _digest("scan", *sorted({d.sha256 for d in documents}), model, rules_version)


def scan_id(deal_id: str, fingerprint_hex: str) -> str:
    """The scan of this deal's documents: readable when it fits the id pattern, hashed otherwise."""
    readable = f"{deal_id}.{fingerprint_hex[:12]}"
    if len(readable) <= 64 and ".." not in readable and re.fullmatch(ID_PATTERN, readable):
        return readable
    return "scan-" + _digest(deal_id, fingerprint_hex)[:32]
