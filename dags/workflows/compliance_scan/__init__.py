"""compliance_scan: the control catalog run against this system's own state, each control a check with
evidence, aggregated into a report (JSON + PDF) that is stored and hashed; a failing control's owner is told.

``dag.py`` wires it; ``scan`` opens a scan (its id, window and policy), ``controls`` collects each control's
evidence (the toolkit's reads, the business tables, the REST API for logs and XComs in ``secrets``) and
judges it by its rule, ``report`` stores the report and tells the owners; ``domain`` holds the catalog, the
policy, the rules and the report (no Airflow).
"""

from __future__ import annotations
