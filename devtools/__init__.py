"""Developer tooling behind `make run`, `make test` and `make catalog`: environment, Postgres, stack."""
