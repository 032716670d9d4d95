"""The sandbox FastAPI app: one server standing in for every outside SaaS the workflows talk to."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from include.sandbox.provider import ProviderError
from include.sandbox.routes import calcom, control, crm, docstore, esign, llm, messaging, research
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
    ):
        app.include_router(router)
    return app
