"""From each pair's findings to the scan's conflicts and the message its owner gets.

A pair's comparison (``PairResult``) holds the rules' findings and the model's, in the pair's content-hash
order (as it is cached). A model finding that quotes the same two lines as a rule finding is the same
conflict, seen twice: it is reported once, as found by both. Each conflict names both documents with the
line and the quote."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from workflows.contradiction_scan.domain.checks import TOPIC_NAMES, Finding
from workflows.contradiction_scan.domain.documents import Document


@dataclass(frozen=True)
class PairResult:
    rules: tuple[Finding, ...]
    model: tuple[Finding, ...]
    ungrounded: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "rules": [f.as_json() for f in self.rules],
            "model": [f.as_json() for f in self.model],
            "ungrounded": self.ungrounded,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PairResult:
        return cls(
            tuple(Finding.from_json(f) for f in data["rules"]),
            tuple(Finding.from_json(f) for f in data["model"]),
            int(data.get("ungrounded", 0)),
        )


def merged(result: PairResult) -> list[tuple[Finding, tuple[str, ...]]]:
    """The pair's conflicts once each, with who found them ("rules", "model")."""
    out: list[tuple[Finding, tuple[str, ...]]] = []
    seen: dict[tuple[int, int], int] = {}
    for finding in result.rules:
        seen.setdefault((finding.a.line, finding.b.line), len(out))
        out.append((finding, ("rules",)))
    for finding in result.model:
        at = seen.get((finding.a.line, finding.b.line))
        if at is not None:
            rule_finding, _ = out[at]
            out[at] = (rule_finding, ("rules", "model"))
        else:
            out.append((finding, ("model",)))
    return out


def conflicts(results: list[tuple[Document, Document, PairResult]]) -> list[dict[str, Any]]:
    """Every conflict of the scan, numbered, each with both sides' document, line and quote."""
    found: list[dict[str, Any]] = []
    for a, b, result in results:
        for finding, sources in merged(result):
            found.append(
                {
                    "topic": finding.topic,
                    "detail": finding.detail,
                    "found_by": list(sources),
                    "sides": [
                        {**_where(a), "line": finding.a.line, "quote": finding.a.text},
                        {**_where(b), "line": finding.b.line, "quote": finding.b.text},
                    ],
                }
            )
    found.sort(key=lambda c: (c["sides"][0]["doc_id"], c["sides"][1]["doc_id"], c["topic"], c["detail"]))
    return [{"conflict_id": f"C{n}", **c} for n, c in enumerate(found, start=1)]


def _where(document: Document) -> dict[str, Any]:
    return {"doc_id": document.doc_id, "kind": document.kind, "title": document.title}


@dataclass(frozen=True)
class OwnerMessage:
    subject: str
    body: str


def owner_message(deal_id: str, scan_id: str, found: list[dict[str, Any]], documents: int) -> OwnerMessage:
    n = len(found)
    lines = [
        f"The contradiction scan of deal {deal_id} (scan {scan_id}) compared its {documents} documents and "
        f"found {n} conflict{'s' if n != 1 else ''}:",
        "",
    ]
    for conflict in found:
        topic = TOPIC_NAMES.get(conflict["topic"], conflict["topic"])
        by = " and ".join("the rules" if s == "rules" else "the model" for s in conflict["found_by"])
        lines.append(f"{conflict['conflict_id']}. {topic}: {conflict['detail']} (found by {by})")
        for side in conflict["sides"]:
            lines.append(f'   - {side["title"]} ({side["doc_id"]}), line {side["line"]}: "{side["quote"]}"')
        lines.append("")
    lines.append("The documents are unchanged by this scan; correct the one that is wrong and scan again.")
    subject = f"Deal {deal_id}: {n} contradiction{'s' if n != 1 else ''} between its documents"
    return OwnerMessage(subject, "\n".join(lines))
