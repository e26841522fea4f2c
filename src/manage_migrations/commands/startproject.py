"""``manage-migrations startproject NAME [DIRECTORY]``: a new project, as Django's startproject
writes one. The files are those of ``templates/project``, with ``project_name`` in their names
and ``{{ project_name }}`` in their text replaced by NAME; ``manage.py migrate`` works in it at once, on SQLite.
"""
import importlib.util
import keyword
from pathlib import Path

from manage_migrations.output import CommandError, Console

TEMPLATE = Path(__file__).resolve().parent.parent / "templates" / "project"
# Template files are kept under names that neither Python nor git treat as their own.
RENAMED = {"env.example": ".env.example", "gitignore": ".gitignore"}


def startproject(console: Console, name: str, directory: Path | None = None) -> Path:
    """Write the project ``name`` into ``directory`` (by default a new folder ``name`` here),
    never over a file that is there. Returns the project's folder."""
    check_name(name)
    if directory is None:
        directory = Path(name)
        if directory.exists():
            raise CommandError(f"'{directory.resolve()}' already exists")
    elif not directory.is_dir():
        raise CommandError(f"Destination directory '{directory.resolve()}' does not exist, please create it first.")
    files = {target(directory, source, name): source for source in sorted(TEMPLATE.rglob("*")) if source.is_file()}
    clashes = [path for path in files if path.exists()]
    if clashes:
        raise CommandError(f"{clashes[0]} already exists. Overlaying a project into an existing directory won't "
                           "replace conflicting files.")
    for path, source in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(source, project_name=name, settings_module=f"{name}.settings"))
        if path.name == "manage.py":
            path.chmod(0o755)
    (directory / "migrations" / "versions").mkdir(exist_ok=True)
    console.line(f"Created project {name} in {directory}: run 'python manage.py migrate' there.", level=2)
    return directory


def render(template: Path, **values: str) -> str:
    """A template file's text with each ``{{ name }}`` replaced by its value."""
    text = template.read_text()
    for name, value in values.items():
        text = text.replace(f"{{{{ {name} }}}}", value)
    return text


def target(directory: Path, source: Path, name: str) -> Path:
    """Where a template file goes: ``project_name`` becomes the name, ``.tpl`` is dropped."""
    parts = [name if part == "project_name" else part for part in source.relative_to(TEMPLATE).parts]
    parts[-1] = RENAMED.get(parts[-1].removesuffix(".tpl"), parts[-1].removesuffix(".tpl"))
    return directory.joinpath(*parts)


def check_name(name: str, kind: str = "project") -> None:
    """Django's rules for a project's or an app's name: an identifier, and not the name of a
    module Python already has."""
    if not name.isidentifier() or keyword.iskeyword(name):
        raise CommandError(f"'{name}' is not a valid {kind} name. Please make sure the name is a valid identifier.")
    if importlib.util.find_spec(name) is not None:
        raise CommandError(f"'{name}' conflicts with the name of an existing Python module and cannot be used as "
                           f"{'an' if kind == 'app' else 'a'} {kind} name. Please try another name.")
