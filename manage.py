#!/usr/bin/env python
"""Django-style command line for this project's database migrations."""
from project.cli import main

if __name__ == "__main__":
    main()
