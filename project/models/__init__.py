"""The sample app's models: a small hotel booking service.

Every module in this package is imported by ``load_models``, so a new file here (say
``bookings.py``) is seen by ``makemigrations`` with no other edit.
"""
import importlib
import pkgutil

from alembic.util import CommandError

from project.models.base import Base


def load_models():
    """Import every module of this package and return the metadata they filled."""
    for module in pkgutil.iter_modules(__path__, prefix=f"{__name__}."):
        try:
            importlib.import_module(module.name)
        except Exception as exc:
            raise CommandError(f"Cannot import {module.name}: {type(exc).__name__}: {exc}") from exc
    return Base.metadata
