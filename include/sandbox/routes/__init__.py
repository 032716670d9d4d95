"""One module per outside system, plus the `/_sandbox` control routes."""

from __future__ import annotations
