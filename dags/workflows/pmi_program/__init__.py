"""pmi_program: post-merger integration, from the closed deal's plan through Day 1 and the Day-30/60/90
reviews to the closing report.

``dag.py`` wires the story; ``program`` the plan, Day 1's start and close, the closing and the last undo;
``day1`` the shape every function shares (attempt, pause for a person, retry or skip); ``hr``, ``finance``,
``it``, ``legal``, ``crm`` each function's Day-1 steps with their undos; ``phases`` and ``review_gate`` the
phase gates; ``domain`` the plan, phase dates, checklists, messages and report (no Airflow).
"""

from __future__ import annotations
