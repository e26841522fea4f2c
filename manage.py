#!/usr/bin/env python
"""Django-style command line for this project's database migrations."""
import os
import sys


def main():
    os.environ.setdefault("MANAGE_MIGRATIONS_SETTINGS", "project.settings")
    try:
        from manage_migrations.cli import execute_from_command_line
    except ImportError:
        # This repository also holds the library: from a checkout where it is not installed, use it from src/.
        sys.path.insert(1, os.path.join(os.path.dirname(os.path.abspath(__file__)), "src"))
        from manage_migrations.cli import execute_from_command_line
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
