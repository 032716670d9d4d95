"""message_classification: an inbound reply's intent and tags (the toolkit's classification service)."""

from __future__ import annotations
