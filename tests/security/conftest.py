"""Fixtures of the bad-input and security tests.

The webhook fixtures are the ones of tests/plugins/webhooks (imported, not copied): ``app_client``,
``secrets`` (route -> HMAC secret), ``post`` (a signed request), ``tag`` (unique marker, rows deleted
afterwards), ``inbox_rows`` and ``dag_runs``. The test DAG fixtures (``test_dags``/``startable``) are not
used here: they are session-scoped with a teardown that must run once.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.plugins.webhooks.conftest import (  # noqa: F401 - fixtures, re-exported for this directory
    app_client,
    dag_runs,
    inbox_rows,
    post,
    secrets,
    tag,
)
from tests.security.security_support import WriteProbe, install_spies


@pytest.fixture
def writes(business_db: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[WriteProbe]:
    """Counts inbox rows and ingress-started runs around each request, and spies on both write paths.

    Inbox rows the test's accepted requests added are deleted afterwards (fuzzed event ids need not carry
    the test's ``tag``).
    """
    probe = WriteProbe(business_db)
    install_spies(probe, monkeypatch)
    yield probe
    if probe.all_inserted:
        with business_db.cursor() as cur:
            cur.execute("DELETE FROM external_events WHERE event_id = ANY(%s)", (probe.all_inserted,))
