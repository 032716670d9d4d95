"""Task-side code of each durable workflow (steps and their compensations), one module per DAG.

Nothing is imported here: DAG files import only what they wire, so parsing one DAG never pays for the
others (PDF rendering, pydantic models). ``saga.compensations.get`` imports every module of the package
when it looks up an undo, which registers the workflow-specific ones.
"""

from __future__ import annotations
