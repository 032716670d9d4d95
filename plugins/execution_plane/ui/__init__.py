"""The Workflows page: every business workflow of the durable and medium-lived kind, as an analyst asks about
it (where is it, who or what does it wait on and since when, what was undone and why), inside Airflow's UI.

A FastAPI app (``app.py``) the plugin mounts at ``/workflows`` in the API server and registers as an
``external_view`` in Airflow's navigation: server-rendered HTML (no JavaScript build, charts drawn as SVG on
the server), a JSON twin of each page and a CSV export. Every route is behind Airflow's own login (the UI's
session cookie or a bearer token) and its ``requires_access_dag`` dependency; a user sees the workflows of
the DAGs the auth manager lets them read, nothing else.

Where the figures come from: the business database (``saga_workflows`` and the ledger: ``queries.py`` for the
list and the charts, ``saga.records`` for one workflow) and, for what a run is parked on right now (an
outside event, a date, an approval's expiry), Airflow's own task instances (``parked.py``).
"""
