"""proposal_generation: a deal's proposal drafted by the LLM from past proposals and playbooks, priced by
CPQ rules (a discount above the threshold waits for the deal desk), rendered as a PDF in English and/or
Arabic, stored once by hash, and its owner told.

``dag.py`` wires the story; ``drafting`` the deal data, the retrieved context and the LLM draft;
``pricing`` the CPQ quote and the discount approval's ending; ``document`` the PDF and the owner's notice;
``domain`` the price book, the CPQ rules, the prompts, the PDF and the messages (no Airflow).
"""

from __future__ import annotations
