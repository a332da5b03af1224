"""Alembic migrations of the query log database (run by `QueryLog` at start-up; no alembic.ini needed)."""
