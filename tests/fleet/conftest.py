"""The fleet tests use the operations tests' fixtures (a temporary PostgreSQL database each)."""

from tests.ops.conftest import pg_store

__all__ = ["pg_store"]
