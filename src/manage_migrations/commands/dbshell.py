"""``dbshell``: the database's own command-line client, as Django's."""
import os
import shutil
import signal
import subprocess

from sqlalchemy.engine import URL

from manage_migrations.output import CommandError


def dbshell(url: URL) -> int:
    """Django's dbshell: the database's own client on this database. The password goes to the
    client through its environment (PGPASSWORD, MYSQL_PWD), never on its command line."""
    backend = url.get_backend_name()
    secret = {}
    if backend == "sqlite":
        args = ["sqlite3", url.database or ":memory:"]
    elif backend == "postgresql":
        args = ["psql", *_flags(("-h", url.host), ("-p", url.port), ("-U", url.username)), url.database or "postgres"]
        secret = {"PGPASSWORD": url.password} if url.password else {}
    elif backend in ("mysql", "mariadb"):
        args = ["mysql", *_flags(("-h", url.host), ("-P", url.port), ("-u", url.username)), *([url.database] if url.database else [])]
        secret = {"MYSQL_PWD": url.password} if url.password else {}
    else:
        raise CommandError(f"dbshell does not know the client for {backend}.")
    if shutil.which(args[0]) is None:
        raise CommandError(f"You appear not to have the '{args[0]}' program installed or on your path.")
    # Ctrl-C belongs to the client while it runs (it cancels a query there), as in Django's dbshell.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        return subprocess.run(args, env={**os.environ, **secret}).returncode
    finally:
        signal.signal(signal.SIGINT, previous)


def _flags(*pairs) -> list[str]:
    return [str(part) for flag, value in pairs if value for part in (flag, value)]
