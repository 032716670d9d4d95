"""Health check workflow: turn service probe results into one status.

The rules are shared with the health route (``GET /services/health``): they live in
``include.services.health``, and this is the workflow's view of them.
"""

from __future__ import annotations

from include.services.health import HealthReport, Probe, summarize

__all__ = ["HealthReport", "Probe", "summarize"]
