"""The short-lived workflows as services (issue 12): each is ONE implementation called two ways.

- ``execution_plane.services.<service>``: the implementation (hooks for outside systems, idempotent writes
  to the business database), with the function a workflow step calls (``*_task``);
- ``execution_plane.services.routes.<service>``: its HTTP route, in the app ``services.app.create_app``
  builds and the plugin mounts under ``/services``, behind Airflow's own authentication.

Business rules live in ``include.services.<service>`` (pure, pydantic in and out).
"""
