"""Execution Plane: the durable-execution toolkit for the workflow inventory."""
