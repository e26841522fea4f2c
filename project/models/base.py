"""The declarative base. Its naming convention gives every constraint a name, which Alembic
needs to alter or drop it later (and SQLite's batch mode needs to rebuild a table)."""
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from project.naming import NAMING_CONVENTION


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
