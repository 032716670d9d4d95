"""Settings the tests' own Airflow stacks add to the shipped ones: for the suite's speed, never correctness.

The dag-processor re-parses every DAG file, changed or not, each ``min_file_process_interval`` (30 s
shipped: a new bundle version reaches a DAG whose file did not change only then). On this 2-core machine
that is 28 % of a core for the 28 files (measured: 25.1 s of CPU in 90 s; 1.2 s with 3,600 s), taken from
every live and chaos test. No test stack changes a DAG file while it runs except
``test_versioned_bundle_live.py``, which keeps the shipped value; a file whose mtime is newer than its last
parse is queued at once whatever the interval (``DagFileProcessorManager.prepare_file_queue``), and a
restarted dag-processor parses everything.
"""

from __future__ import annotations

QUIET_PARSING = {"AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "3600"}
