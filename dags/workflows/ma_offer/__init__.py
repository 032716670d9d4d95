"""ma_offer: an M&A offer prepared from the deal's due diligence, reviewed by counsel and financial advisors,
approved by the board, sent, filed with the regulator, negotiated with the target and signed through
``signature_commitment`` as a child run.

``dag.py`` wires the story, by concern: ``offer`` (the offer record, its versions, the board's brief and the
offer sent to the target, with their undos), ``reviews`` (counsel and advisors), ``regulatory`` (the filing
and the regulator's answers), ``negotiation`` (the target's answers), ``signing`` (the child signature run
and the close), ``endings`` (bad endings recorded before compensation), ``poller`` (the filing status poll
behind ``ma_offer_filing_poller_dag.py``), ``domain`` (price and structure, negotiation rules, documents:
no Airflow).
"""

from __future__ import annotations
