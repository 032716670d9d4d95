"""One hook per outside system, each over an Airflow connection (host = API base URL, password = token)."""
