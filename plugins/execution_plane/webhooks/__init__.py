"""Webhook ingress: a FastAPI app the Airflow API server mounts under ``/webhooks`` (see README.md).

Importing this package is cheap and touches no database: the plugin module imports it in every Airflow
component, while only the API server ever serves a request.
"""
