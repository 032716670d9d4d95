"""Errors of the durable-execution toolkit. Business errors are not retryable (retrying cannot fix them)."""

from __future__ import annotations


class DurableError(Exception):
    """Base class."""


class IdempotencyConflict(DurableError):
    """The same idempotency key was used for a different request: a bug, never retried."""


class WorkflowAlreadyEnded(DurableError):
    """A new run was started for a workflow that already completed or was compensated."""


class WorkflowNotRunning(DurableError):
    """A new side effect was asked of a workflow that already ended or is being compensated."""


class UnknownCompensation(DurableError):
    """A ledger row names a compensation action nobody registered."""
