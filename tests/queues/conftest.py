"""PostgreSQL fixtures of the store tests, for the queue tests on both databases."""

from tests.store.conftest import pg_database, pg_url  # noqa: F401
