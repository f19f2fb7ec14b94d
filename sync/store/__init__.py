"""The account store: SQLite by default, PostgreSQL for many workers."""
