"""contradiction_scan's rules, pure (no Airflow, no toolkit, no database):

- ``documents``: the request (``parse_request``; ``ScanError`` names the field), a document and its kinds,
  the CRM record and business records as documents, the pairs, the comparison's cache key and the scan's
  fingerprint and id;
- ``facts`` (with ``numerals``): amounts, dates, parties, exclusivity and territory read from English and
  Arabic text, each with its line;
- ``checks``: the deterministic comparison of two documents' facts (``compare_facts``, ``RULES_VERSION``);
- ``model``: the LLM's prompt and the grounded reading of its answer;
- ``report``: a pair's result, the scan's conflicts and the owner's message.
"""

from __future__ import annotations

from workflows.contradiction_scan.domain.checks import RULES_VERSION, Finding, Quote, compare_facts
from workflows.contradiction_scan.domain.documents import (
    KINDS,
    LEDGER_KINDS,
    Document,
    ScanError,
    ScanRequest,
    comparison_key,
    crm_document,
    fingerprint,
    pairs,
    parse_request,
    record_document,
    scan_id,
    text_document,
)
from workflows.contradiction_scan.domain.facts import document_facts
from workflows.contradiction_scan.domain.model import (
    SYSTEM_PROMPT,
    ModelAnswerError,
    comparison_prompt,
    read_answer,
)
from workflows.contradiction_scan.domain.report import PairResult, conflicts, merged, owner_message

__all__ = [
    "KINDS",
    "LEDGER_KINDS",
    "RULES_VERSION",
    "SYSTEM_PROMPT",
    "Document",
    "Finding",
    "ModelAnswerError",
    "PairResult",
    "Quote",
    "ScanError",
    "ScanRequest",
    "compare_facts",
    "comparison_key",
    "comparison_prompt",
    "conflicts",
    "crm_document",
    "document_facts",
    "fingerprint",
    "merged",
    "owner_message",
    "pairs",
    "parse_request",
    "read_answer",
    "record_document",
    "scan_id",
    "text_document",
]
