"""The LLM's part: the prompt that hands it two documents (numbered lines) and asks for their contradictions
as JSON, and the reading of its answer. A model may paraphrase or invent: a conflict is kept only when each
quote is found in its document (on the line it cites, or the first line that holds it, which then becomes
its location); the others are counted as ungrounded and dropped. An answer that is not the asked-for JSON
is a ``ModelAnswerError`` (the comparison is not cached and is asked again)."""

from __future__ import annotations

import json
from typing import Any

from workflows.contradiction_scan.domain.checks import Finding, Quote
from workflows.contradiction_scan.domain.documents import KIND_TITLES, Document

SYSTEM_PROMPT = (
    "You are a deal lawyer reviewing the documents of one deal for contradictions. You answer with JSON only."
)

_INSTRUCTIONS = """Compare document A and document B of deal {deal_id}. List every statement in one that \
contradicts a statement in the other: amounts, dates, parties, exclusivity, territory, governing law, \
conditions, anything else. A topic only one of them mentions is not a contradiction. Quote each side exactly \
as written, with its line number.
Answer with JSON only: {{"conflicts": [{{"topic": "...", "a_line": 1, "a_quote": "...", "b_line": 1, \
"b_quote": "...", "explanation": "..."}}]}}, or {{"conflicts": []}} when they agree."""


class ModelAnswerError(ValueError):
    """The model did not answer with the comparison's JSON."""


def _numbered(label: str, document: Document) -> str:
    body = "\n".join(f"{n}| {line}" for n, line in enumerate(document.lines(), start=1))
    title = document.title.replace('"', "'")
    return f'<document id="{label}" kind="{KIND_TITLES[document.kind]}" title="{title}">\n{body}\n</document>'


def comparison_prompt(deal_id: str, a: Document, b: Document) -> str:
    return "\n\n".join([_INSTRUCTIONS.format(deal_id=deal_id), _numbered("A", a), _numbered("B", b)])


def _plain(text: str) -> str:
    return " ".join(text.split()).casefold()


def _ground(document: Document, line: Any, quote: Any) -> Quote | None:
    """Where ``quote`` is in ``document``: the cited line if it holds it, else the first line that does."""
    if not isinstance(quote, str) or not _plain(quote):
        return None
    lines = document.lines()
    wanted = _plain(quote)
    if isinstance(line, int) and 1 <= line <= len(lines) and wanted in _plain(lines[line - 1]):
        return Quote(line, " ".join(quote.split()))
    for number, text in enumerate(lines, start=1):
        if wanted in _plain(text):
            return Quote(number, " ".join(quote.split()))
    return None


def read_answer(answer: str, a: Document, b: Document) -> tuple[list[Finding], int]:
    """The model's conflicts between ``a`` and ``b`` that are grounded in both, and how many were not."""
    try:
        body = json.loads(answer)
    except ValueError:
        raise ModelAnswerError(f"not JSON: {answer[:200]!r}") from None
    conflicts = body.get("conflicts") if isinstance(body, dict) else None
    if not isinstance(conflicts, list) or not all(isinstance(c, dict) for c in conflicts):
        raise ModelAnswerError(f"no list of conflicts: {answer[:200]!r}")
    findings: list[Finding] = []
    ungrounded = 0
    for conflict in conflicts:
        quote_a = _ground(a, conflict.get("a_line"), conflict.get("a_quote"))
        quote_b = _ground(b, conflict.get("b_line"), conflict.get("b_quote"))
        if quote_a is None or quote_b is None:
            ungrounded += 1
            continue
        topic = " ".join(str(conflict.get("topic") or "unnamed").split())[:80].lower()
        detail = " ".join(str(conflict.get("explanation") or "").split())[:500] or f"{topic} differs"
        findings.append(Finding(topic, detail, quote_a, quote_b, "model"))
    return findings, ungrounded
