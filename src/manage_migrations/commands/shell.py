"""``shell``: Python with the project's models, a Session on its database and SQLAlchemy
imported, as Django 5.2's shell imports every model."""
import sys
from collections import defaultdict

from manage_migrations.conf import Settings, load_models, resolve
from manage_migrations.output import CommandError, Console

INTERFACES = ("ipython", "bpython", "python")  # Django's order


def shell(settings: Settings, console: Console, interface: str | None = None, command: str | None = None,
          stdin=sys.stdin) -> None:
    """Run ``command``, or what is piped in, or an interactive interpreter (the first of
    IPython, bpython and Python that is installed, or ``interface``), with the namespace."""
    namespace, imports = project_namespace(settings)
    interactive = command is None and stdin.isatty()
    # Run with a command, the output is the command's alone: the line goes to standard error.
    say_imported(console if interactive else Console(console.verbosity, scriptable=True), namespace, imports)
    try:
        if not interactive:
            exec(compile(command if command is not None else stdin.read(), "<shell>", "exec"), namespace)
            return
        for name in [interface] if interface else INTERFACES:
            try:
                return start(name, namespace)
            except ImportError:
                if interface:
                    raise CommandError(f"Couldn't import {interface} interface.") from None
    finally:
        namespace["session"].close()
        namespace["engine"].dispose()


def project_namespace(settings: Settings) -> tuple[dict, dict[str, list[str]]]:
    """Every model class (or, for a MetaData, the MetaData), ``sa``, ``select``, ``engine``,
    ``session`` (on the configured database; an asyncio URL through its blocking driver) and
    ``settings``; with the imports they stand for, by module."""
    import sqlalchemy as sa

    from manage_migrations.management import session

    metadata = load_models(settings, everything=True)
    base = resolve(settings.models, "MODELS")
    classes = [mapper.class_ for mapper in getattr(getattr(base, "registry", None), "mappers", ())]
    namespace = {cls.__name__: cls for cls in sorted(classes, key=lambda cls: cls.__name__)}
    if not classes:
        namespace["metadata"] = metadata
    opened = session(settings)
    namespace.update(sa=sa, select=sa.select, engine=opened.bind, session=opened, settings=settings)
    imports = defaultdict(list)
    for cls in namespace.values():
        if isinstance(cls, type):
            imports[cls.__module__].append(cls.__name__)
    imports["sqlalchemy"].append("select")
    return namespace, dict(imports)


def say_imported(console: Console, namespace: dict, imports: dict[str, list[str]]) -> None:
    """Django 5.2's line: how many objects were imported, and at -v 2 from where."""
    if console.verbosity < 2:
        return console.line(f"{len(namespace)} objects imported automatically (use -v 2 for details).")
    console.line(f"{len(namespace)} objects imported automatically:\n")
    for module, names in sorted(imports.items()):
        console.line(f"  from {module} import {', '.join(sorted(names))}")
    console.line("  import sqlalchemy as sa\n  engine, session, settings: the project's database and settings\n")


def start(interface: str, namespace: dict) -> None:
    """One of Django's three interfaces; ImportError when it is not installed."""
    if interface == "ipython":
        from IPython import start_ipython

        start_ipython(argv=[], user_ns=namespace)
    elif interface == "bpython":
        import bpython

        bpython.embed(namespace)
    else:
        import code

        code.interact(local=namespace)
