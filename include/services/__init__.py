"""Business rules of the short-lived workflows run as services (issue 12): pure Python and pydantic, no
Airflow, no toolkit, no database or HTTP client (an import contract of `make lint`). The toolkit's
``execution_plane.services`` calls them, with the outside systems and the database around them."""
