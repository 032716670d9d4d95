"""Task-side code of each durable workflow (steps and their compensations), one module per DAG."""
