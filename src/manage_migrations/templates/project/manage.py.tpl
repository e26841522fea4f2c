#!/usr/bin/env python
"""Django-style command line for this project's database migrations."""
import os
import sys


def main():
    os.environ.setdefault("MANAGE_MIGRATIONS_SETTINGS", "{{ settings_module }}")
    try:
        from manage_migrations.cli import execute_from_command_line
    except ImportError as exc:
        raise ImportError(
            "Couldn't import manage_migrations. Are you sure it's installed and available on your PYTHONPATH "
            "environment variable? Did you forget to activate a virtual environment?"
        ) from exc
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
