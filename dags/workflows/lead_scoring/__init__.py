"""lead_scoring: a lead scored from its CRM data and an LLM's reading of its notes (the scoring service)."""

from __future__ import annotations
