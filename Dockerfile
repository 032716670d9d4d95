# Production image: the official Airflow 3.3.2 image plus this project's pinned requirements and code.
# (Built by CI/CD elsewhere; no Docker engine runs on the development machines.)
FROM apache/airflow:3.3.2-python3.11

COPY requirements.txt constraints.txt /tmp/ep/
RUN pip install --no-cache-dir -r /tmp/ep/requirements.txt -c /tmp/ep/constraints.txt

COPY --chown=airflow:root dags/ /opt/airflow/dags/
COPY --chown=airflow:root plugins/ /opt/airflow/plugins/
COPY --chown=airflow:root include/ /opt/airflow/include/

# include/ (business logic, migrations) and the execution_plane package must import everywhere:
# workers, the dag-processor, the API server (webhook plugin) and the triggerer (triggers).
ENV PYTHONPATH=/opt/airflow:/opt/airflow/plugins

# Airflow's LocalExecutor with a bounded shutdown (plugins/execution_plane/executor.py, apache/airflow#67870).
ENV AIRFLOW__CORE__EXECUTOR=execution_plane.executor.BoundedLocalExecutor
