"""dialect_detection: the Arabic dialect of a text (the toolkit's dialect service)."""

from __future__ import annotations
