"""The sandbox FastAPI app: one server standing in for every outside SaaS the workflows talk to."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from include.sandbox.provider import ProviderError
from include.sandbox.routes import (
    advisor,
    affiliates,
    calcom,
    control,
    counsel,
    crm,
    crm_contacts,
    crm_customers,
    crm_leads,
    directory,
    docstore,
    erp,
    esign,
    flags,
    hris,
    infra,
    legal,
    llm,
    messaging,
    metrics,
    notify,
    regulator,
    research,
    sanctions,
)
from include.sandbox.state import SandboxState
from include.sandbox.webhooks import WebhookDispatcher


def create_app(*, state: SandboxState | None = None) -> FastAPI:
    """Build the app around ``state`` (default: from ``EP_SANDBOX_*`` environment variables)."""
    sandbox_state = state if state is not None else SandboxState.from_env()
    dispatcher = WebhookDispatcher(sandbox_state)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        dispatcher.close()

    app = FastAPI(
        title="Execution Plane sandbox",
        description="Stand-ins for CRM, eSign, messaging, Cal.com, LLM, document storage and data APIs.",
        lifespan=lifespan,
    )
    app.state.sandbox = sandbox_state
    app.state.webhooks = dispatcher

    @app.exception_handler(ProviderError)
    async def provider_error(_request: Request, exc: ProviderError) -> JSONResponse:
        return exc.to_response()

    for router in (
        control.router,
        esign.control_router,
        crm.router,
        esign.router,
        *messaging.routers,
        calcom.router,
        llm.router,
        docstore.router,
        research.research_router,
        research.financials_router,
        regulator.router,
        regulator.control_router,
        counsel.router,
        counsel.control_router,
        advisor.router,
        advisor.control_router,
        crm_customers.router,
        crm_contacts.router,
        messaging.control_router,
        hris.router,
        erp.router,
        erp.control_router,
        directory.router,
        legal.router,
        legal.control_router,
        infra.router,
        infra.control_router,
        flags.router,
        metrics.router,
        metrics.control_router,
        notify.router,
        crm_leads.router,
        research.control_router,
        sanctions.router,
        sanctions.control_router,
        affiliates.platform_router,
        affiliates.payouts_router,
        affiliates.control_router,
    ):
        app.include_router(router)
    return app
