"""Non-DAG code shipped with the Airflow project (domain logic, migrations, sandbox)."""
