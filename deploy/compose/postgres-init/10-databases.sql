-- Runs once, when the Postgres volume is created (docker-compose.yaml): the business database and the
-- knowledge store beside Airflow's metadata database (POSTGRES_DB). Their tables come from the migrations
-- that the airflow-init service runs on every deploy.
CREATE DATABASE execution_plane OWNER airflow;
CREATE DATABASE execution_plane_knowledge OWNER airflow;
