"""dashboard_aggregation: the analyst's and the executive's numbers in one call (the dashboard service)."""

from __future__ import annotations
