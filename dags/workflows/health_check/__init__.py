"""health_check: probes the business database and every outside system through their connections."""

from __future__ import annotations
