# Production image: the official Airflow 3.3.2 image plus this project's pinned requirements, code and config.
# (Built by CI/CD elsewhere; no Docker engine runs on the development machines.)
FROM apache/airflow:3.3.2-python3.11

COPY requirements.txt constraints.txt /tmp/ep/
RUN pip install --no-cache-dir -r /tmp/ep/requirements.txt -c /tmp/ep/constraints.txt

# No dags/: the DAG code comes from the versioned DAG bundle (GitDagBundle of config/airflow.cfg), cloned per
# commit, so that a run keeps the code it started with. The toolkit and include/ ship here and are NOT
# versioned per run: a new image reaches runs already parked (README, Operations).
COPY --chown=airflow:root plugins/ /opt/airflow/plugins/
COPY --chown=airflow:root include/ /opt/airflow/include/

# include/ (business logic, migrations) and the execution_plane package must import everywhere:
# workers, the dag-processor, the API server (webhook plugin) and the triggerer (triggers).
ENV PYTHONPATH=/opt/airflow:/opt/airflow/plugins

# The Airflow settings the project needs to be correct (the bounded LocalExecutor of apache/airflow#67870,
# scheduler and dag-processor timings, each with its reason), the same file `make run` and the tests read.
# Per-deployment values (database, URLs, secrets) come from AIRFLOW__* environment variables, which Airflow
# reads before this file; a platform that sets AIRFLOW_CONFIG itself must carry these settings over.
COPY --chown=airflow:root config/airflow.cfg /opt/execution_plane/airflow.cfg
ENV AIRFLOW_CONFIG=/opt/execution_plane/airflow.cfg
