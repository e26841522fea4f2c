"""Where the project lives and which database it uses, decided once per run.

Like Django's settings module, but the only setting that varies is the database:
``DATABASE_URL`` from the process environment, else from ``.env`` beside ``manage.py``
(or the file given with ``--env-file``), else ``db.sqlite3`` beside ``manage.py``.
"""
import difflib
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
    # How long one migration waits for a lock on a table another session holds, before it is
    # rolled back and tried again (PostgreSQL's lock_timeout, MariaDB's lock_wait_timeout).
    table_lock_timeout: float = 10
    # Alembic's options for where the migration files are, from ``[tool.alembic]`` in
    # pyproject.toml, so that manage.py and the plain alembic command see the same files.
    version_locations: tuple[Path, ...] = ()
    sourceless: bool = False
    recursive_version_locations: bool = False

    @property
    def migrations_dir(self) -> Path:
        return self.base_dir / "migrations"

    @property
    def versions_dir(self) -> Path:
        """Where new migrations go, unless they continue a branch whose files are elsewhere."""
        return self.migration_folders[0]

    @property
    def migration_folders(self) -> list[Path]:
        return list(self.version_locations) or [self.migrations_dir / "versions"]



def load_settings(env_file: Path | None = None, base_dir: Path = BASE_DIR) -> Settings:
    """Read the settings without touching ``os.environ``: the environment wins over the file.
    A setting that is there but cannot be used (empty, misspelt, in a file that cannot be
    read) is an error: guessing would migrate some other database."""
    if env_file is not None and not os.access(env_file, os.R_OK):
        raise CommandError(f"Cannot read the --env-file {env_file}.")
    env_file = env_file or base_dir / ".env"
    file_values = read_env_file(env_file) if env_file.exists() else {}
    if "DATABASE_URL" in os.environ:
        url, source = os.environ["DATABASE_URL"], "DATABASE_URL in the environment"
    else:
        url, source = file_values.get("DATABASE_URL"), f"DATABASE_URL in {env_file}"
        if "DATABASE_URL" in file_values and url is None:
            url = ""  # a line with the name alone
        misspelt = difflib.get_close_matches("DATABASE_URL", [key for key in file_values if key], n=1, cutoff=0.8)
        if url is None and misspelt:
            raise CommandError(f"{env_file} sets {misspelt[0]}, not DATABASE_URL: correct the name, "
                               "or remove it to use db.sqlite3.")
    if url is not None and not url.strip():
        raise CommandError(f"{source} is set but empty: give it a database URL, or unset it to use db.sqlite3.")
    wait = os.environ.get("MIGRATE_TABLE_LOCK_TIMEOUT", file_values.get("MIGRATE_TABLE_LOCK_TIMEOUT")) or "10"
    try:
        table_lock_timeout = float(wait)
    except ValueError:
        table_lock_timeout = 0
    if not 0 < table_lock_timeout < float("inf"):
        raise CommandError(f"MIGRATE_TABLE_LOCK_TIMEOUT must be a number of seconds above 0, not {wait!r}.")
    return Settings(base_dir=base_dir, database_url=url or f"sqlite:///{base_dir / 'db.sqlite3'}",
                    cache_dir=user_cache_dir(base_dir), table_lock_timeout=table_lock_timeout,
                    **alembic_options(base_dir))


def alembic_options(base_dir: Path) -> dict:
    """``version_locations``, ``sourceless`` and ``recursive_version_locations`` from the
    ``[tool.alembic]`` table of pyproject.toml, as the plain alembic command reads them."""
    try:
        text = (base_dir / "pyproject.toml").read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise CommandError(f"Cannot read {base_dir / 'pyproject.toml'}: {exc}") from None
    if not any(name in text for name in (b"version_locations", b"sourceless")):
        return {}  # nothing to read: spare parsing it on every command
    import tomllib

    try:
        table = tomllib.loads(text.decode()).get("tool", {}).get("alembic", {})
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise CommandError(f"Cannot read {base_dir / 'pyproject.toml'}: {exc}") from None
    options = {}
    locations = table.get("version_locations")
    if locations:
        locations = [locations] if isinstance(locations, str) else locations
        options["version_locations"] = tuple(base_dir / location.replace("%(here)s", str(base_dir))
                                             for location in locations)
    for name in ("sourceless", "recursive_version_locations"):
        if name in table:
            options[name] = str(table[name]).lower() in ("true", "1", "yes", "on")
    return options


def read_env_file(path: Path) -> dict:
    """The values of a ``.env`` file, as python-dotenv reads them (with its ``${VAR}``
    expansion); a line it cannot parse, which it would only warn about and skip, is an error
    naming the file and line, and so is a file that cannot be read or is not UTF-8 text."""
    import io

    from dotenv import dotenv_values  # only here: `--help` and a deploy with no .env never need it
    from dotenv.parser import parse_stream

    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise CommandError(f"Cannot read {path}: it is not UTF-8 text.") from None
    except OSError as exc:
        raise CommandError(f"Cannot read {path}: {exc.strerror}.") from None
    for binding in parse_stream(io.StringIO(text)):
        if binding.error:
            raise CommandError(f"{path}, line {binding.original.line}: python-dotenv cannot parse this line.")
    return dotenv_values(stream=io.StringIO(text))


def user_cache_dir(base_dir: Path, environ=os.environ) -> Path | None:
    """This user's cache for this project: never shared between projects or users. None (no
    cache) for a user with no home directory, as a container run under an arbitrary uid has."""
    import hashlib

    try:
        root = Path(environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    except RuntimeError:  # Path.home(): no HOME and no passwd entry
        return None
    return root / "manage-migrations" / hashlib.sha256(str(base_dir).encode()).hexdigest()[:16]
