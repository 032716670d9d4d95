"""contradiction_scan: a deal's documents compared pair by pair, by the LLM and by deterministic checks, the
conflicts flagged with quotes and locations and the deal's owner told once.

``dag.py`` wires it; ``documents`` loads the deal's documents (the CRM record, the documents its workflows
stored, read from the document store), ``compare`` compares each pair (a comparison is cached by the pair's
content hashes, the model and the rules' version, so a re-scan of unchanged documents reuses it), ``report``
records the scan and tells the owner; ``domain`` holds the rules (no Airflow).
"""

from __future__ import annotations
