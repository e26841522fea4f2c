"""``manage-migrations init``: Django's commands for an existing Alembic project.

It reads the project as the plain alembic command does (``alembic.ini``, ``--config PATH`` or
``[tool.alembic]``), learns from its env.py where the models and the database URL come from
where env.py says so plainly (``target_metadata = Base.metadata``,
``config.set_main_option("sqlalchemy.url", settings.DB_URL)``), and writes ``manage.py`` and
``manage_settings.py`` in the project folder (where the alembic command is run). The team's
env.py, template, file names and history stay as they are; env.py gets the two changes manage.py
needs where it lacks them, shown as a diff: the Alembic cookbook's connection sharing (so that every command runs on the connection
it was given, never on one env.py opens itself), and manage.py's own tables left out of the
plain alembic command's autogenerate.
"""
import ast
import difflib
import os
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

from manage_migrations import conf
from manage_migrations.output import CommandError, Console
from manage_migrations.commands.startproject import TEMPLATE, render

SETTINGS_MODULE = "manage_settings"
IMPORT_INCLUDE_NAME = "from manage_migrations.environment import include_name"
HANDED = ("    {name} = config.attributes.get(\"connection\", None)\n"
          "    if {name} is not None:  # handed in by manage.py: the Alembic cookbook's connection sharing\n"
          "{body}"
          "        return\n")


def init(console: Console, base_dir: Path, config_file: Path | None = None, models: str | None = None,
         database_url: str | None = None) -> None:
    """Write manage.py and its settings for the Alembic project in ``base_dir``, and make its
    env.py take the connection manage.py hands it."""
    for name in ("manage.py", f"{SETTINGS_MODULE}.py"):
        if (base_dir / name).exists():
            raise CommandError(f"{base_dir / name} already exists: this project has a manage.py.")
    if config_file is None:
        config_file = next((base_dir / name for name in ("alembic.ini", "pyproject.toml")
                            if has_alembic_config(base_dir / name)), None)
        if config_file is None:
            raise CommandError(f"No Alembic project in {base_dir}: no alembic.ini and no [tool.alembic] in "
                               "pyproject.toml. Give the config with --config PATH, or start one with startproject.")
    options = conf.alembic_options(config_file, base_dir)
    env_py = options["migrations_dir"] / "env.py"
    if not env_py.exists():
        raise CommandError(f"{env_py} does not exist: {config_file} names {options['migrations_dir']} as "
                           "script_location.")
    found = EnvPy.read(env_py)
    models = models or found.models
    database_url = database_url or found.database_url
    console.line(f"Found an Alembic project: {display(config_file, base_dir)}, migrations in "
                 f"{display(options['migrations_dir'], base_dir)}.")
    console.line(f"  Models: {models}" if models else
                 "  Models: env.py's target_metadata (not one name: give --models MODULE:ATTR for squashmigrations)")
    if database_url:
        console.line(f"  Database URL: {database_url}")
    elif options["sqlalchemy_url"]:
        console.line(f"  Database URL: sqlalchemy.url of {display(config_file, base_dir)} (DATABASE_URL in the "
                     "environment or .env wins)")
    else:
        console.line("  Database URL: none found: set DATABASE_URL, or give --database-url MODULE:ATTR where your "
                     "app's configuration keeps it")
    changed = found.adopted()
    if changed != found.text:
        env_py.write_text(changed)
        console.line(f"Changed {display(env_py, base_dir)}: it uses the connection manage.py hands it and leaves "
                     "manage.py's own tables out of autogenerate:")
        for line in difflib.unified_diff(found.text.splitlines(), changed.splitlines(), str(env_py.name),
                                         str(env_py.name), lineterm=""):
            console.line(f"  {line}")
    for warning in found.warnings():
        console.line(f"  {warning}")
    relative_config = os.path.relpath(config_file.resolve(), base_dir.resolve())
    (base_dir / f"{SETTINGS_MODULE}.py").write_text(settings_text(relative_config, models, database_url,
                                                                 label_of(base_dir)))
    manage_py = base_dir / "manage.py"
    manage_py.write_text(render(TEMPLATE / "manage.py.tpl", settings_module=SETTINGS_MODULE))
    manage_py.chmod(0o755)
    console.line(f"Created manage.py and {SETTINGS_MODULE}.py: run 'python manage.py showmigrations'.")


def has_alembic_config(path: Path) -> bool:
    """An alembic.ini, or a pyproject.toml with a [tool.alembic] table."""
    if path.name != "pyproject.toml":
        return path.exists()
    return path.exists() and bool(conf.toml_options(path))


def display(path: Path, base_dir: Path) -> str:
    return os.path.relpath(path, base_dir)


def label_of(base_dir: Path) -> str:
    """The app label of the project's migrations: its folder's name, as Django names a project."""
    return re.sub(r"\W+", "_", base_dir.resolve().name).strip("_").lower() or "migrations"


def settings_text(config: str, models: str | None, database_url: str | None, label: str) -> str:
    lines = ['"""Settings of manage.py (written by manage-migrations init): where the models, the migrations',
             'and the database are. manage_migrations.conf says what each name means."""',
             "from pathlib import Path", "", "BASE_DIR = Path(__file__).resolve().parent", "",
             "# The Alembic config, which the plain alembic command reads too.",
             f"ALEMBIC_CONFIG = {config!r}", ""]
    lines += ["# The models autogenerate compares with (env.py's target_metadata decides for makemigrations).",
              f"MODELS = {models!r}" if models else "# MODELS = \"myapp.models:Base\"", ""]
    lines += ["# The database URL, read from the app's own configuration." if database_url else
              "# The database: DATABASE_URL (the environment, then .env), else the Alembic config's sqlalchemy.url.",
              f"DATABASE_URL_FROM = {database_url!r}" if database_url else
              "# DATABASE_URL_FROM = \"myapp.config:settings.database_url\"", ""]
    lines += ["# The app label of the migrations, as Django's showmigrations and migrate APP_LABEL show it.",
              f"APP_LABEL = {label!r}", ""]
    return "\n".join(lines)


@dataclass(frozen=True)
class EnvPy:
    """An env.py read as source: what it says plainly, and where the changes go."""
    path: Path
    text: str
    tree: ast.Module

    @classmethod
    def read(cls, path: Path) -> "EnvPy":
        text = path.read_text()
        try:
            return cls(path, text, ast.parse(text))
        except SyntaxError as exc:
            raise CommandError(f"{path} has a syntax error at line {exc.lineno}: {exc.msg}") from None

    def imported(self) -> dict[str, str]:
        """Each name the module imports at the top, as ``module:name`` (or ``module`` for ``import``)."""
        names = {}
        for node in self.tree.body:
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.update({alias.asname or alias.name: f"{node.module}:{alias.name}" for alias in node.names})
            elif isinstance(node, ast.Import):
                names.update({alias.asname or alias.name: alias.name for alias in node.names if not alias.asname
                              or "." not in alias.name})
        return names

    def reference(self, node: ast.AST | None) -> str | None:
        """``module:attribute`` for an expression made of an imported name and attributes (or a
        call of one with no arguments), which conf.resolve can load again; None otherwise."""
        if isinstance(node, ast.Call) and not node.args and not node.keywords:
            node = node.func
        chain = []
        while isinstance(node, ast.Attribute):
            chain.insert(0, node.attr)
            node = node.value
        if not isinstance(node, ast.Name) or node.id not in self.imported():
            return None
        source = self.imported()[node.id]
        if ":" not in source:  # import package.module; package.module.attribute
            module, *rest = [source, *chain] if "." not in source else [*source.split("."), *chain]
            return None if not rest else f"{module}:{'.'.join(rest)}"
        return ".".join([source, *chain])

    @property
    def models(self) -> str | None:
        """``target_metadata = Base.metadata`` as ``module:Base`` (a MetaData as ``module:metadata``)."""
        for node in self.tree.body:
            if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["target_metadata"]:
                value = node.value
                if isinstance(value, ast.Attribute) and value.attr == "metadata":
                    value = value.value
                return self.reference(value)
        return None

    @property
    def database_url(self) -> str | None:
        """``config.set_main_option("sqlalchemy.url", settings.DB_URL)`` as ``module:settings.DB_URL``."""
        for node in ast.walk(self.tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "set_main_option" and len(node.args) == 2
                    and isinstance(node.args[0], ast.Constant) and node.args[0].value == "sqlalchemy.url"):
                value = node.args[1]
                if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "str":
                    value = value.args[0] if len(value.args) == 1 else value
                return self.reference(value)
        return None

    def uses_handed_connection(self) -> bool:
        return re.search(r"attributes\b.*[\"']connection[\"']", self.text) is not None

    def has_include_name(self) -> bool:
        return any(kw.arg == "include_name" for call in self.configure_calls() for kw in call.keywords)

    def has_own_include_name(self) -> bool:
        """An include_name of the team's own (not the one an earlier init put in)."""
        return self.has_include_name() and IMPORT_INCLUDE_NAME not in self.text

    def configure_calls(self) -> list[ast.Call]:
        return [node for node in ast.walk(self.tree) if isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute) and node.func.attr == "configure"
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "context"]

    def warnings(self) -> list[str]:
        """What init could not change, each in one line saying what to do."""
        found = []
        if not self.uses_handed_connection() and self.handed_branch() is None:
            found.append(f"{self.path.name} opens its own connection in a way init does not recognise: make it use "
                         "config.attributes.get('connection') when set (the Alembic cookbook's connection sharing); "
                         "until then every command refuses to run migrations.")
        if self.has_own_include_name():
            found.append(f"{self.path.name} has an include_name of its own: make it also leave out the tables "
                         "manage_migrations and manage_migrations_unfinished, or the plain alembic command's "
                         "autogenerate will want to drop them.")
        return found

    def adopted(self) -> str:
        """The text with the changes manage.py needs: the handed connection used, and manage.py's
        own tables left out of autogenerate. Insertions only, so the diff is easy to review."""
        lines = self.text.splitlines(keepends=True)
        inserts: list[tuple[int, int, str]] = []  # (line index, column, text), applied from the end
        branch = None if self.uses_handed_connection() else self.handed_branch()
        if branch is not None:
            inserts.append((branch[0], 0, branch[1]))
        calls = self.configure_calls()
        if calls and not self.has_include_name():
            last_import = max(node.end_lineno for node in self.tree.body if isinstance(node, (ast.Import, ast.ImportFrom)))
            inserts.append((last_import, 0, IMPORT_INCLUDE_NAME + "\n"))
            for call in calls:
                last = max([*call.args, *(kw.value for kw in call.keywords)], key=lambda n: (n.end_lineno, n.end_col_offset))
                inserts.append((last.end_lineno - 1, last.end_col_offset, ", include_name=include_name"))
        for line, column, text in sorted(inserts, key=lambda insert: (insert[0], insert[1]), reverse=True):
            if column:
                lines[line] = lines[line][:column] + text + lines[line][column:]
            else:
                lines.insert(line, text)
        return "".join(lines)

    def handed_branch(self) -> tuple[int, str] | None:
        """Where ``run_migrations_online`` gets the branch that runs on a connection handed in,
        and its text: the body of its ``with engine.connect() as connection:`` (Alembic's sync
        template), or the function its ``connection.run_sync(...)`` runs (the async one)."""
        online = next((node for node in self.tree.body if isinstance(node, ast.FunctionDef)
                       and node.name == "run_migrations_online"), None)
        if online is None:
            return None
        first = online.body[1] if len(online.body) > 1 and isinstance(online.body[0], ast.Expr) and isinstance(
            getattr(online.body[0], "value", None), ast.Constant) else online.body[0]
        for node in ast.walk(online):
            if isinstance(node, ast.With) and len(node.items) == 1 and isinstance(node.items[0].optional_vars, ast.Name):
                call = node.items[0].context_expr
                if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr == "connect":
                    body = "".join(self.text.splitlines(keepends=True)[node.body[0].lineno - 1:node.body[-1].end_lineno])
                    body = textwrap.indent(textwrap.dedent(body), " " * 8)
                    return first.lineno - 1, HANDED.format(name=node.items[0].optional_vars.id, body=body)
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "run_sync" \
                    and node.args and isinstance(node.args[0], ast.Name):
                return first.lineno - 1, HANDED.format(name="connection", body=f"        {node.args[0].id}(connection)\n")
        return None
