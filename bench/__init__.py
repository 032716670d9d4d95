"""Benchmarks of the Execution Plane (issue 6): `make bench` / `python -m bench.run`.

Importing this package is cheap and touches no database: the triggerer imports `bench.triggers` (the
naive baseline trigger), the dag-processor imports `bench.operators` from the bench DAG bundle.
"""
