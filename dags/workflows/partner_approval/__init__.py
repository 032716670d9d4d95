"""partner_approval: a partner scored, approved by manager, legal and an executive, negotiated, activated.

``dag.py`` wires the story; ``steps`` holds each step and its undo; ``domain`` the business rules.
"""

from __future__ import annotations
