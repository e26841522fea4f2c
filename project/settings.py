"""Where the project lives and which database it uses, decided once per run.

Like Django's settings module, but the only setting that varies is the database:
``DATABASE_URL`` from the process environment, else from ``.env`` beside ``manage.py``
(or the file given with ``--env-file``), else ``db.sqlite3`` beside ``manage.py``.
"""
import os
from dataclasses import dataclass
from pathlib import Path

from project.output import CommandError

BASE_DIR = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    base_dir: Path
    database_url: str
    models_package: str = "project.models"
    # Where to keep the index of migration files and makemigrations' scratch database; None
    # keeps nothing.
    cache_dir: Path | None = None

    @property
    def migrations_dir(self) -> Path:
        return self.base_dir / "migrations"

    @property
    def versions_dir(self) -> Path:
        return self.migrations_dir / "versions"



def load_settings(env_file: Path | None = None, base_dir: Path = BASE_DIR) -> Settings:
    """Read the settings without touching ``os.environ``: the environment wins over the file."""
    if env_file is not None and not os.access(env_file, os.R_OK):
        raise CommandError(f"Cannot read the --env-file {env_file}.")
    env_file = env_file or base_dir / ".env"
    file_values = {}
    if env_file.exists():
        from dotenv import dotenv_values  # only then: `--help` and a deploy with no .env never need it

        file_values = dotenv_values(env_file)
    url = (
        os.environ.get("DATABASE_URL")
        or file_values.get("DATABASE_URL")
        or f"sqlite:///{base_dir / 'db.sqlite3'}"
    )
    return Settings(base_dir=base_dir, database_url=url, cache_dir=user_cache_dir(base_dir))


def user_cache_dir(base_dir: Path, environ=os.environ) -> Path | None:
    """This user's cache for this project: never shared between projects or users. None (no
    cache) for a user with no home directory, as a container run under an arbitrary uid has."""
    import hashlib

    try:
        root = Path(environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    except RuntimeError:  # Path.home(): no HOME and no passwd entry
        return None
    return root / "manage-migrations" / hashlib.sha256(str(base_dir).encode()).hexdigest()[:16]
