"""Deferrable sensors: a waiting workflow holds no worker slot."""
