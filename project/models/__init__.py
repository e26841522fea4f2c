"""The sample app's models: a small hotel booking service.

Every module in this package and its sub-packages is imported by ``load_models``, so a new file here (say
``bookings.py``) is seen by ``makemigrations`` with no other edit.
"""
import importlib
import pkgutil

from alembic.util import CommandError

from project.models.base import Base


def load_models():
    """Import every module of this package, sub-packages included, and return the metadata
    they filled."""
    import_all(__path__, __name__)
    return Base.metadata


def import_all(path, package: str) -> None:
    for module in pkgutil.iter_modules(path, prefix=f"{package}."):
        try:
            imported = importlib.import_module(module.name)
        except Exception as exc:
            raise CommandError(f"Cannot import {module.name}: {type(exc).__name__}: {exc}") from exc
        if module.ispkg:
            import_all(imported.__path__, module.name)
