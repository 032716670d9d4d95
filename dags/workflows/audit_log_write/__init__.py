"""audit_log_write: one component's audit event chained into the audit log (the audit service)."""

from __future__ import annotations
