"""Task-side code of each durable workflow (steps and their compensations), one module per DAG.

Importing the package registers every workflow-specific compensation (saga.compensations.get does).
"""

from __future__ import annotations

from execution_plane.workflows import partner_approval

__all__ = ["partner_approval"]
