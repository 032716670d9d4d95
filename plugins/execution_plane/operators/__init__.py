"""Idempotent side-effect operators and the approval gate (see saga.steps for the task-side API)."""
