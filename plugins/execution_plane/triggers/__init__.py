"""Triggers run by the Airflow triggerer; they live under plugins/ so the triggerer can import them."""
