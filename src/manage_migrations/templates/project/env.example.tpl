# Copy to .env and edit. A real environment variable wins over this file.
# With no DATABASE_URL at all, the database is db.sqlite3 beside manage.py.
# DATABASE_URL=postgresql://user:password@localhost:5432/{{ project_name }}
# How long one migration waits for a table lock your application holds (seconds, default 10).
# MIGRATE_TABLE_LOCK_TIMEOUT=10
