"""Local stand-ins for every outside system (see README.md); production points connections elsewhere."""

from __future__ import annotations
