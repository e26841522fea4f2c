#!/usr/bin/env python
"""Django-style command line for this project's database migrations."""
import os
import sys


def main():
    os.environ.setdefault("MANAGE_MIGRATIONS_SETTINGS", "{{ settings_module }}")
    from manage_migrations.cli import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
