"""Deal data, retrieved context, LLM draft.

- **Deal data** (``deal_data``): the CRM's deal, and the request checked against the price book's rules; a
  deal the CRM does not have (or without an owner to tell), a closed deal or a product list the rules refuse
  fails the run here, before anything is recorded (the error names the field, e.g. ``items[1].quantity``).
- **Context** (``retrieve_context``): knowledge retrieval (``execution_plane.services.retrieval``, the
  function behind ``GET /services/knowledge/search``) over past proposals, term sheets, memos and playbooks.
  When the knowledge store is unavailable (503: no pgvector where it runs, or down) or the embeddings
  provider fails, the proposal goes on without: the draft is written from the deal alone, and the
  proposal's sources and the owner's notice say why. Recorded once with the proposal.
- **Draft** (``draft``): one LLM call per language (the ledger's key is the provider's Idempotency-Key; a
  retry replays the text), stored with the proposal.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from execution_plane.durable import Run, step
from workflows.proposal_generation.common import CLOSED_DEAL_STATUSES, proposal_row


@step
def deal_data(run: Run) -> dict[str, Any]:
    """The deal from the CRM; the request refused here (nothing recorded) if the rules refuse it."""
    from airflow.sdk.exceptions import AirflowFailException
    from pydantic import ValidationError

    from execution_plane.hooks.crm import CrmHook
    from execution_plane.hooks.http import ProviderError
    from workflows.proposal_generation.domain import Deal, InvalidQuote, Item, price

    params = run.params
    deal_id = str(params["deal_id"])
    with CrmHook() as crm:
        try:
            record = crm.get_deal(deal_id)
        except ProviderError as exc:
            if exc.status == 404:
                raise AirflowFailException(f"deal_id: the CRM has no deal {deal_id!r}") from exc
            raise
    try:
        deal = Deal.model_validate(record)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}" for error in exc.errors()
        )
        raise AirflowFailException(f"deal_id: deal {deal_id!r} in the CRM is unusable: {problems}") from exc
    if (deal.status or "").lower() in CLOSED_DEAL_STATUSES:
        raise AirflowFailException(
            f"deal_id: deal {deal.deal_id} is {deal.status}: no proposal for a closed deal"
        )
    try:
        items = [Item.model_validate(item) for item in params["items"]]
        price(
            items, requested_discount_pct=params["requested_discount_pct"], currency=str(params["currency"])
        )
    except InvalidQuote as exc:
        raise AirflowFailException(str(exc)) from exc
    return {"deal": deal.model_dump(mode="json")}


@step
def retrieve_context(run: Run, checked: dict[str, Any]) -> dict[str, Any]:
    """Register the proposal; find what past proposals and playbooks say (or why nothing can be found)."""
    from execution_plane.services.errors import ServiceError
    from execution_plane.services.retrieval import search_task
    from workflows.proposal_generation.domain import Deal, Item, context_from_hits, search_query

    params = run.params
    deal = Deal.model_validate(checked["deal"])
    items = [Item.model_validate(item) for item in params["items"]]
    with run.saga as saga:
        saga.register()

        def record(cur: Any) -> dict[str, Any]:
            from workflows.proposal_generation.domain import Context

            try:
                context = context_from_hits(search_task(search_query(deal, items))["hits"])
            except ServiceError as exc:
                context = Context(status="unavailable", reason=f"{exc.error}: {exc.message}"[:500])
            cur.execute(
                "INSERT INTO proposals (workflow_id, deal_id, owner_email, currency, language, items,"
                " context_status, context, status) VALUES (%s, %s, %s, %s, %s, %s::jsonb, %s, %s::jsonb,"
                " 'drafting') ON CONFLICT (workflow_id) DO NOTHING",
                (
                    saga.workflow_id,
                    deal.deal_id,
                    deal.owner_email,
                    params["currency"],
                    params["language"],
                    json.dumps([item.model_dump() for item in items]),
                    context.status,
                    context.model_dump_json(),
                ),
            )
            return {"status": context.status, "passages": len(context.passages), "reason": context.reason}

        return saga.db_write("context", record, request={"deal_id": deal.deal_id})


@step(pool="llm")
def draft(run: Run, checked: dict[str, Any]) -> dict[str, Any]:
    """The summary in each language the proposal is written in, by the LLM."""
    from execution_plane.hooks.llm import LlmHook
    from workflows.proposal_generation.domain import (
        LANGUAGES,
        SYSTEM_PROMPT,
        Context,
        Deal,
        Item,
        draft_prompt,
    )

    deal = Deal.model_validate(checked["deal"])
    items = [Item.model_validate(item) for item in run.params["items"]]
    with LlmHook() as llm, run.saga as saga:
        with saga.conn() as conn, conn.cursor() as cur:
            stored = Context.model_validate(proposal_row(cur, saga.workflow_id)["context"])
        summaries = {}
        for language in LANGUAGES[str(run.params["language"])]:
            prompt = draft_prompt(deal, items, stored, language)

            def ask(key: str, prompt: str = prompt) -> dict[str, Any]:
                return {"text": llm.complete(prompt, system_prompt=SYSTEM_PROMPT, idempotency_key=key)}

            summaries[language] = saga.call(
                f"draft.{language}",
                side_effect="llm.complete",
                request={"prompt_sha256": hashlib.sha256(prompt.encode()).hexdigest()},
                call=ask,
            )["text"]

        def write(cur: Any) -> dict[str, Any]:
            cur.execute(
                "UPDATE proposals SET draft = %s::jsonb, status = 'drafted', updated_at = now()"
                " WHERE workflow_id = %s",
                (json.dumps(summaries), saga.workflow_id),
            )
            return {"languages": sorted(summaries)}

        return saga.db_write("draft", write, request={"languages": sorted(summaries)})
