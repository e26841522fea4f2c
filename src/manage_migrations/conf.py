"""A project's settings: where its models, migrations and database are, read once per run.

A project's ``manage.py`` names its settings module, as Django's names ``DJANGO_SETTINGS_MODULE``
(``MANAGE_MIGRATIONS_SETTINGS``, or ``--settings``). The names it may set:

``BASE_DIR``
    The project folder: ``.env``, a relative SQLite path and the Alembic config are found there
    (default: the folder above the settings' package, where ``manage.py`` is).
``MODELS``
    ``"module:attribute"``: the declarative base or ``MetaData`` that autogenerate compares with.
``MODEL_PACKAGES``
    Packages whose every module (sub-packages included) is imported first, so every model is found.
``ALEMBIC_CONFIG``
    The Alembic config, relative to ``BASE_DIR``: an ``alembic.ini``, or a ``pyproject.toml`` with
    ``[tool.alembic]`` (default: ``alembic.ini`` when there is one, else ``pyproject.toml``).
``DEFAULT_DATABASE_URL``
    The database when ``DATABASE_URL`` is set neither in the environment nor in ``.env``
    (``startproject`` writes ``sqlite:///db.sqlite3``, as Django's does). Without it, that is an error.
``DATABASE_URL_FROM``
    ``"module:attribute"`` of the app's own configuration (``src.config:settings.DB_URL``), read
    instead of ``DATABASE_URL``, so that nothing is written twice.
``APP_LABEL``
    The app of the migrations that carry no branch label (default: the settings' package name).
``APPS``
    The project's apps besides its own, as Django's ``INSTALLED_APPS``: packages (``startapp``
    writes one) whose every module is imported as ``MODEL_PACKAGES``' are. The tables their
    models define are the app's, labelled by the package's last name: ``makemigrations`` writes
    their changes on the app's own branch of migrations (an Alembic branch label), so that
    ``migrate billing`` and ``showmigrations billing`` work as Django's.
``TRY_MIGRATIONS_ON``
    Database servers (URLs, as ``DATABASE_URL``) on which ``makemigrations`` also tries each new
    migration, up, down and up, on a scratch database of its own: the backends the project runs
    on besides the configured one. A server that does not answer is named and skipped.
``VERSION_TABLE``, ``VERSION_TABLE_SCHEMA``
    Where Alembic's version table is (default: what env.py gives ``context.configure()`` as
    ``version_table`` and ``version_table_schema``, else ``alembic_version``). Needed only when
    env.py computes them: manage.py reads env.py without running it.
"""
import difflib
import importlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from manage_migrations.output import CommandError

SETTINGS_VARIABLE = "MANAGE_MIGRATIONS_SETTINGS"
PLACEHOLDER_URL = "driver://user:pass@localhost/dbname"  # what alembic init writes into alembic.ini
# What every connection is given besides its URL (the URL's own settings win): a connect
# timeout, and libpq's keepalives, so that a server or route gone dark mid-run is noticed within
# about a minute.
CONNECT_TIMEOUT = 10
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10, "keepalives_count": 3}


@dataclass(frozen=True)
class Settings:
    base_dir: Path
    database_url: str
    # Where the migrations are: Alembic's script_location, and the options of its config that
    # say which files are migrations and how new ones are named.
    migrations_dir: Path
    config_file: Path | None = None
    version_locations: tuple[Path, ...] = ()
    sourceless: bool = False
    recursive_version_locations: bool = False
    file_template: str = "%(rev)s"
    prepend_sys_path: tuple[Path, ...] = ()
    # -x key=value, handed to env.py as Alembic's command hands it.
    x_arguments: tuple[str, ...] = ()
    models: str | None = None
    model_packages: tuple[str, ...] = ()
    app_label: str = "migrations"
    apps: tuple[str, ...] = ()  # APPS: the packages of the project's other apps
    # Where to keep the index of migration files and makemigrations' scratch database; None
    # keeps nothing.
    cache_dir: Path | None = None
    # How long one migration waits for a lock on a table another session holds, before it is
    # rolled back and tried again (PostgreSQL's lock_timeout, MariaDB's lock_wait_timeout).
    table_lock_timeout: float = 10
    # Database servers where makemigrations also tries each new migration (TRY_MIGRATIONS_ON).
    try_on: tuple[str, ...] = ()
    # Alembic's version_table and version_table_schema, as env.py configures them.
    version_table: str = "alembic_version"
    version_table_schema: str | None = None

    @property
    def versions_dir(self) -> Path:
        """Where new migrations go, unless they continue a branch whose files are elsewhere."""
        return self.migration_folders[0]

    @property
    def app_labels(self) -> dict[str, str]:
        """The installed apps, as Django's: each label (the project's own first), with its package."""
        return {self.app_label: "", **{package.rpartition(".")[2]: package for package in self.apps}}

    @property
    def migration_folders(self) -> list[Path]:
        return list(self.version_locations) or [self.migrations_dir / "versions"]


def load_settings(module_name: str | None = None, env_file: Path | None = None, config_file: Path | None = None,
                  x_arguments: tuple[str, ...] = (), environ=os.environ) -> Settings:
    """The settings of the module ``module_name`` names (else ``MANAGE_MIGRATIONS_SETTINGS``)."""
    module_name = module_name or environ.get(SETTINGS_VARIABLE)
    if not module_name:
        raise CommandError(f"No settings: run this through a project's manage.py, or name the settings module "
                           f"with --settings or {SETTINGS_VARIABLE}.")
    return settings_from(import_settings(module_name), env_file, config_file, x_arguments, environ)


def settings_from(module, env_file: Path | None = None, config_file: Path | None = None,
                  x_arguments: tuple[str, ...] = (), environ=os.environ) -> Settings:
    """The project's settings from its settings module, its Alembic config and its database
    URL, without touching ``os.environ``. A setting that is there but cannot be used (empty,
    misspelt, in a file that cannot be read) is an error: guessing would migrate some other
    database."""
    base_dir = Path(getattr(module, "BASE_DIR", None) or Path(module.__file__).resolve().parent.parent)
    if env_file is not None and not os.access(env_file, os.R_OK):
        raise CommandError(f"Cannot read the --env-file {env_file}.")
    env_file = env_file or base_dir / ".env"
    file_values = read_env_file(env_file) if env_file.exists() else {}
    wait = environ.get("MIGRATE_TABLE_LOCK_TIMEOUT", file_values.get("MIGRATE_TABLE_LOCK_TIMEOUT")) or "10"
    try:
        table_lock_timeout = float(wait)
    except ValueError:
        table_lock_timeout = 0
    if not 0 < table_lock_timeout < float("inf"):
        raise CommandError(f"MIGRATE_TABLE_LOCK_TIMEOUT must be a number of seconds above 0, not {wait!r}.")
    config_file = config_file or (Path(module.ALEMBIC_CONFIG) if getattr(module, "ALEMBIC_CONFIG", None) else None)
    alembic = alembic_options(base_dir / config_file if config_file else None, base_dir)
    on_sys_path(alembic["prepend_sys_path"])  # as Alembic: before anything of the app is imported
    packages = getattr(module, "MODEL_PACKAGES", ())
    in_config = alembic.pop("sqlalchemy_url")
    app_label = getattr(module, "APP_LABEL", None) or module.__name__.rpartition(".")[0] or module.__name__
    apps = as_tuple(getattr(module, "APPS", ()))
    labels = [app_label] + [package.rpartition(".")[2] for package in apps]
    clash = next((label for label in labels if labels.count(label) > 1), None)
    if clash:
        raise CommandError(f"Two apps of {module.__name__} have the label '{clash}' (APP_LABEL, APPS): "
                           "app labels aren't unique.")
    return Settings(**version_table_of(module, alembic["migrations_dir"] / "env.py"),
        base_dir=base_dir, database_url=database_url_of(module, env_file, file_values, environ, in_config),
        x_arguments=tuple(x_arguments), models=getattr(module, "MODELS", None),
        model_packages=as_tuple(packages), app_label=app_label, apps=apps,
        cache_dir=user_cache_dir(base_dir), table_lock_timeout=table_lock_timeout,
        try_on=as_tuple(getattr(module, "TRY_MIGRATIONS_ON", ())), **alembic)


def as_tuple(value) -> tuple:
    """A setting that is a list of names, given as one name or several."""
    return (value,) if isinstance(value, str) else tuple(value)


def import_settings(module_name: str):
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise CommandError(f"Cannot find the settings module {module_name}: run manage.py from the project, "
                               "or give its folder with --pythonpath.") from None
        raise CommandError(f"Cannot import the settings module {module_name}: {type(exc).__name__}: {exc}") from exc
    except Exception as exc:
        raise CommandError(f"Cannot import the settings module {module_name}: {type(exc).__name__}: {exc}") from exc


def database_url_of(module, env_file: Path, file_values: dict, environ, in_config: str | None = None) -> str:
    """``DATABASE_URL_FROM`` when the settings name it; else ``DATABASE_URL`` from the
    environment, then from ``.env``, then the Alembic config's ``sqlalchemy.url`` (as the plain
    alembic command reads it), then the settings' ``DEFAULT_DATABASE_URL``. A source that is
    named and gives nothing is an error naming it, never a default."""
    source = getattr(module, "DATABASE_URL_FROM", None)
    if source:
        value = resolve(source, "DATABASE_URL_FROM")
        value = value.render_as_string(hide_password=False) if hasattr(value, "render_as_string") else value
        if value is None or not str(value).strip():
            raise CommandError(f"DATABASE_URL_FROM names {source}, which gives no database URL.")
        return str(value)
    default = in_config or getattr(module, "DEFAULT_DATABASE_URL", None)
    instead = ("to use the Alembic config's sqlalchemy.url" if in_config else
               "to use DEFAULT_DATABASE_URL" if default else "to use no database")
    if "DATABASE_URL" in environ:
        url, where = environ["DATABASE_URL"], "DATABASE_URL in the environment"
    else:
        url, where = file_values.get("DATABASE_URL"), f"DATABASE_URL in {env_file}"
        if "DATABASE_URL" in file_values and url is None:
            url = ""  # a line with the name alone
        misspelt = difflib.get_close_matches("DATABASE_URL", [key for key in file_values if key], n=1, cutoff=0.8)
        if url is None and misspelt:
            raise CommandError(f"{env_file} sets {misspelt[0]}, not DATABASE_URL: correct the name, "
                               f"or remove it {instead}.")
    if url is not None and not url.strip():
        raise CommandError(f"{where} is set but empty: give it a database URL, or unset it {instead}.")
    if url is None and not default:
        raise CommandError(f"No database: set DATABASE_URL in the environment or in {env_file}, sqlalchemy.url in "
                           f"the Alembic config, or DEFAULT_DATABASE_URL or DATABASE_URL_FROM in the settings "
                           f"({module.__name__}).")
    return url or default


def version_table_of(module, env_py: Path) -> dict:
    """Alembic's ``version_table`` and ``version_table_schema``: the settings' ``VERSION_TABLE``
    and ``VERSION_TABLE_SCHEMA`` where set, else what env.py gives ``context.configure()``, read
    from its source (the hot path never runs env.py). A value env.py computes cannot be read so:
    that is an error asking for the setting, never a guess at ``alembic_version``, which would
    read another table and run every migration again. Running env.py checks it said the same
    (``migrations.project_environment``)."""
    found = {}
    try:
        text = env_py.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        text = ""  # Alembic says what is wrong with it when it runs
    for name, value in given_in(text, ("version_table", "version_table_schema")):
        setting = name.upper()
        if getattr(module, setting, None) is None and (value is ... or found.get(name, value) != value):
            raise CommandError(f"{env_py} computes {name} (or gives it two values), which manage.py reads without "
                               f"running env.py: set {setting} in the settings ({module.__name__}) to the same.")
        found[name] = value
    for name in ("version_table", "version_table_schema"):
        if getattr(module, name.upper(), None) is not None:
            found[name] = getattr(module, name.upper())
    if not found.get("version_table"):
        found["version_table"] = "alembic_version"
    return found


def given_in(text: str, names: tuple[str, ...]) -> list[tuple[str, object]]:
    """Each ``name=value`` of a call (``context.configure(...)``, ``dict(...)``) and each
    ``"name": value`` of a dict literal in Python source, for the names asked; the value when it
    is a literal, else ``...``."""
    import ast

    if not any(name in text for name in names):
        return []
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return []  # Alembic says what is wrong with it when it runs
    pairs = [(kw.arg, kw.value) for node in ast.walk(tree) if isinstance(node, ast.Call) for kw in node.keywords]
    pairs += [(key.value, value) for node in ast.walk(tree) if isinstance(node, ast.Dict)
              for key, value in zip(node.keys, node.values) if isinstance(key, ast.Constant)]
    return [(name, value.value if isinstance(value, ast.Constant) else ...) for name, value in pairs if name in names]


def resolve(reference: str, setting: str):
    """``"package.module:name.attribute"``: the object it names, called when it is a function."""
    module_name, _, attributes = reference.partition(":")
    if not module_name or not attributes:
        raise CommandError(f"{setting} must be 'module:attribute', not {reference!r}.")
    try:
        found = importlib.import_module(module_name)
        for name in attributes.split("."):
            found = getattr(found, name)
    except Exception as exc:
        raise CommandError(f"{setting}: cannot load {reference}: {type(exc).__name__}: {exc}") from exc
    return found() if callable(found) and not isinstance(found, type) else found


def alembic_options(config_file: Path | None, base_dir: Path) -> dict:
    """Where the migration files are and how new ones are named, from the project's Alembic
    config as the plain alembic command reads it: ``alembic.ini`` (its ``[alembic]`` section,
    ``%(here)s`` its folder), else ``[tool.alembic]`` of ``pyproject.toml``. Read without
    Alembic, which ``migrate`` with nothing to do never loads. A relative path is relative to
    the project folder, where the alembic command is run."""
    if config_file is None:
        config_file = next((base_dir / name for name in ("alembic.ini", "pyproject.toml")
                            if (base_dir / name).exists()), None)
        if config_file is None:
            raise CommandError(f"No Alembic config in {base_dir}: neither alembic.ini nor pyproject.toml is there.")
    if not config_file.exists():
        raise CommandError(f"The Alembic config {config_file} does not exist.")
    here = config_file.resolve().parent
    options = toml_options(config_file) if config_file.suffix == ".toml" else ini_options(config_file)
    if config_file.suffix != ".toml" and (here / "pyproject.toml").exists():
        options = {**toml_options(here / "pyproject.toml"), **options}  # as Alembic: the ini first
    if not options.get("script_location"):
        raise CommandError(f"{config_file} sets no script_location: Alembic would not know where the migrations are.")

    def path(value: str) -> Path:
        return base_dir / value.replace("%(here)s", str(here))

    separator = options.get("path_separator")
    locations = options.get("version_locations") or []
    if isinstance(locations, str):
        locations = split_paths(locations, separator)
    truth = ("true", "1", "yes", "on")
    return dict(config_file=config_file.resolve(), migrations_dir=path(options["script_location"]),
                sqlalchemy_url=None if options.get("sqlalchemy.url") in (None, "", PLACEHOLDER_URL) else
                options["sqlalchemy.url"],
                version_locations=tuple(map(path, locations)),
                sourceless=str(options.get("sourceless", False)).lower() in truth,
                recursive_version_locations=str(options.get("recursive_version_locations", False)).lower() in truth,
                file_template=options.get("file_template") or "%(rev)s_%(slug)s",
                prepend_sys_path=prepend_paths(options.get("prepend_sys_path"), separator, path))


def split_paths(value: str, separator: str | None) -> list[str]:
    """Alembic's ``path_separator``: ``os``, ``space``, ``newline``, a character; unset, the
    legacy split on spaces and commas."""
    import re

    if separator in (None, "", "space"):
        parts = re.split(r"[\s,]+" if separator is None else r"\s+", value)
    elif separator == "newline":
        parts = value.splitlines()
    else:
        parts = value.split(os.pathsep if separator == "os" else {"colon": ":", "semicolon": ";"}.get(separator, separator))
    return [part.strip() for part in parts if part.strip()]


def prepend_paths(value, separator, path) -> tuple[Path, ...]:
    """``prepend_sys_path``, which Alembic puts before ``sys.path`` so env.py imports the app."""
    if not value:
        return ()
    return tuple(path(item) for item in (split_paths(value, separator) if isinstance(value, str) else value))


def ini_options(config_file: Path) -> dict:
    import configparser

    parser = configparser.ConfigParser(defaults={"here": str(config_file.resolve().parent)})
    try:
        parser.read(config_file, encoding="utf-8")
        return {key: parser.get("alembic", key) for key in parser.options("alembic") if key != "here"} \
            if parser.has_section("alembic") else {}
    except (configparser.Error, UnicodeDecodeError) as exc:
        raise CommandError(f"Cannot read {config_file}: {str(exc).splitlines()[0]}") from None


def toml_options(config_file: Path) -> dict:
    import tomllib

    try:
        table = tomllib.loads(config_file.read_text(encoding="utf-8")).get("tool", {}).get("alembic", {})
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise CommandError(f"Cannot read {config_file}: {exc}") from None
    # In TOML ``%%`` stands for ``%`` as in an ini file, which Alembic takes alike.
    return {key: value.replace("%%", "%") if isinstance(value, str) else value for key, value in table.items()}


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


def load_models(settings: Settings, everything: bool = True):
    """The project's models as a MetaData: every module of ``MODEL_PACKAGES`` imported, then
    ``MODELS`` (a declarative base's metadata, or a MetaData). With ``everything`` False, only
    ``MODELS``: its naming convention is all that running migrations needs of it."""
    import sqlalchemy as sa

    if not settings.models:
        raise CommandError("The settings name no MODELS ('module:attribute' of a declarative base or a MetaData): "
                           "give the models' module and attribute.")
    if everything:
        for package in (*settings.model_packages, *settings.apps):
            import_all(package)
    found = resolve(settings.models, "MODELS")
    metadata = getattr(found, "metadata", found)
    if not isinstance(metadata, sa.MetaData):
        raise CommandError(f"MODELS names {settings.models}, which is neither a declarative base nor a MetaData.")
    return metadata


def apps_of_tables(settings: Settings, metadata) -> dict[str, str]:
    """Which app (``APPS``) each table of the models is: the app whose package defines its
    mapped class, or holds it as a module's ``Table``. The rest are the project's own app's."""
    import sqlalchemy as sa

    packages = {package: label for label, package in settings.app_labels.items() if package}
    if not packages:
        return {}

    def app_of_module(name: str) -> str | None:
        return next((label for package, label in packages.items()
                     if name == package or name.startswith(f"{package}.")), None)

    found = {}
    registry = getattr(resolve(settings.models, "MODELS"), "registry", None)
    for mapper in registry.mappers if registry is not None else ():
        for table in mapper.tables:
            found.setdefault(table.name, app_of_module(mapper.class_.__module__))
    for name, module in list(sys.modules.items()):
        label = app_of_module(name)
        for value in vars(module).values() if label else ():
            if isinstance(value, sa.Table) and value.metadata is metadata:
                found.setdefault(value.name, label)
    return {table.name: found.get(table.name) or settings.app_label for table in metadata.tables.values()}


def import_all(package: str) -> None:
    """Import a package and every module under it, so that each model file adds its tables."""
    import pkgutil

    try:
        imported = importlib.import_module(package)
    except Exception as exc:
        raise CommandError(f"Cannot import {package}: {type(exc).__name__}: {exc}") from exc
    for module in pkgutil.iter_modules(getattr(imported, "__path__", []), prefix=f"{package}."):
        if module.ispkg:
            import_all(module.name)
            continue
        try:
            importlib.import_module(module.name)
        except Exception as exc:
            raise CommandError(f"Cannot import {module.name}: {type(exc).__name__}: {exc}") from exc


def on_sys_path(folders: tuple[Path, ...]) -> None:
    """Alembic's ``prepend_sys_path``, before the app's modules are imported."""
    for folder in reversed(folders):
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))
