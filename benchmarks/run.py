"""Times manage.py against bare Alembic (and Django, when installed) on generated migrations.

    python benchmarks/run.py [--repeat 5] [--database postgresql+psycopg2://postgres@127.0.0.1:5432]

In a temporary folder it generates a copy of this project whose ``migrations/versions`` holds
N generated migrations (one table and one index each) and whose models match them; a bare
Alembic environment (Alembic's generic ``env.py``) over the same versions folder; and, when
Django is importable, a Django project with N equivalent migrations. Each pair of commands
runs alternately, ``--repeat`` times (three times that for ``--help``) after one warm-up run
each; the script prints median times and ratios against the targets, and exits 1 when a
target is missed. Two lines carry no target: Python's bare start-up, and bare Alembic running
one transaction per migration as manage.py does. PostgreSQL is used when the server answers,
SQLite otherwise; the makemigrations case is SQLite, as Django's. ``manage.py test`` making a
fresh test database over the 200 migrations (a session after the first: a copy of the
template the first one migrated) is compared with ``migrate`` running them on a fresh database.
"""
import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

BARE_ENV = '''\
import os
from alembic import context
from sqlalchemy import create_engine, pool

connectable = create_engine(os.environ["DATABASE_URL"], poolclass=pool.NullPool)
with connectable.connect() as connection:
    # BENCH_PER_MIGRATION=1: one transaction per migration, as manage.py runs them (the
    # production-safety issue requires it); Alembic's default is one for the whole run.
    context.configure(connection=connection, target_metadata=None,
                      transaction_per_migration=os.environ.get("BENCH_PER_MIGRATION") == "1")
    with context.begin_transaction():
        context.run_migrations()
'''


def migration(number: int) -> str:
    table, parent = f"t{number:04d}", f"{number - 1:04d}_create_table_t{number - 1:04d}" if number > 1 else None
    return f'''"""create table {table}"""
from alembic import op
import sqlalchemy as sa

revision = '{number:04d}_create_table_{table}'
down_revision = {parent!r}
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('{table}',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=50), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_{table}'))
    )
    op.create_index(op.f('ix_{table}_name'), '{table}', ['name'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_{table}_name'), table_name='{table}')
    op.drop_table('{table}')
'''


def generate_project(folder: Path, count: int) -> Path:
    """This project with ``count`` generated migrations and matching models."""
    for name in ("manage.py", "pyproject.toml"):  # the settings name pyproject.toml's [tool.alembic]
        shutil.copy2(REPO / name, folder / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.sqlite3", ".env", "versions")
    for name in ("project", "migrations"):
        shutil.copytree(REPO / name, folder / name, ignore=ignore)
    for sample in ("hotels", "rooms", "users"):
        (folder / "project" / "models" / f"{sample}.py").unlink()
    versions = folder / "migrations" / "versions"
    versions.mkdir()
    models = ["from sqlalchemy import String", "from sqlalchemy.orm import Mapped, mapped_column",
              "from project.models.base import Base", ""]
    for number in range(1, count + 1):
        (versions / f"{number:04d}_create_table_t{number:04d}.py").write_text(migration(number))
        models += [f"class T{number:04d}(Base):", f"    __tablename__ = 't{number:04d}'",
                   "    id: Mapped[int] = mapped_column(primary_key=True)",
                   "    name: Mapped[str] = mapped_column(String(50), index=True)", ""]
    (folder / "project" / "models" / "generated.py").write_text("\n".join(models))
    bare = folder / "bare"
    bare.mkdir()
    (bare / "env.py").write_text(BARE_ENV)
    shutil.copy2(REPO / "migrations" / "script.py.mako", bare / "script.py.mako")
    (folder / "alembic.ini").write_text(
        f"[alembic]\nscript_location = {bare}\nversion_locations = {versions}\npath_separator = os\n")
    return folder


def add_test(project: Path) -> Path:
    """One test on the test database of the pytest plugin, in ``project``'s tests/."""
    (project / "tests").mkdir(exist_ok=True)
    (project / "tests" / "test_fresh.py").write_text(
        "import sqlalchemy as sa\n\n\ndef test_fresh(db_session):\n"
        "    assert db_session.scalar(sa.text('SELECT count(*) FROM t0200')) == 0\n")
    return project


def squash_copy(project: Path, folder: Path, url: str) -> Path:
    """A copy of ``project`` whose migrations ``squashmigrations`` squashed into one."""
    shutil.copytree(project, folder, ignore=shutil.ignore_patterns("bare", "alembic.ini"))
    last = sorted((folder / "migrations" / "versions").glob("*.py"))[-1].stem
    timed([sys.executable, "manage.py", "squashmigrations", last, "--noinput"], folder, url)
    return folder


def generate_django(folder: Path, count: int) -> Path:
    """A Django project with one app whose ``count`` migrations each create one model."""
    app = folder / "bench"
    (app / "migrations").mkdir(parents=True)
    (app / "__init__.py").write_text("")
    (app / "migrations" / "__init__.py").write_text("")
    (folder / "settings.py").write_text(
        "import os\nfrom django.db.backends.utils import *  # noqa\n"
        "SECRET_KEY = 'benchmark'\nINSTALLED_APPS = ['bench']\nUSE_TZ = True\n"
        "DEFAULT_AUTO_FIELD = 'django.db.models.AutoField'\n"
        "import dj_database\nDATABASES = {'default': dj_database.config()}\n")
    (folder / "dj_database.py").write_text(
        "import os\nfrom urllib.parse import urlparse\n\n\ndef config():\n"
        "    url = urlparse(os.environ['DATABASE_URL'])\n"
        "    if url.scheme.startswith('sqlite'):\n"
        "        return {'ENGINE': 'django.db.backends.sqlite3', 'NAME': url.path[1:]}\n"
        "    return {'ENGINE': 'django.db.backends.postgresql', 'NAME': url.path[1:], 'USER': url.username,\n"
        "            'HOST': url.hostname, 'PORT': url.port or 5432}\n")
    models = ["from django.db import models", ""]
    for number in range(1, count + 1):
        dependencies = f"[('bench', '{number - 1:04d}_t{number - 1:04d}')]" if number > 1 else "[]"
        (app / "migrations" / f"{number:04d}_t{number:04d}.py").write_text(
            "from django.db import migrations, models\n\n\nclass Migration(migrations.Migration):\n"
            f"    initial = {number == 1}\n    dependencies = {dependencies}\n"
            f"    operations = [migrations.CreateModel(name='T{number:04d}', fields=[\n"
            "        ('id', models.AutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),\n"
            "        ('name', models.CharField(max_length=50, db_index=True))])]\n")
        models += [f"class T{number:04d}(models.Model):", "    name = models.CharField(max_length=50, db_index=True)", ""]
    (app / "models.py").write_text("\n".join(models))
    return folder


class Databases:
    """Fresh databases for the runs: on the PostgreSQL server when it answers, else SQLite files."""

    def __init__(self, server: str, folder: Path):
        self.server, self.folder, self.created = server, folder, []
        self.postgres = self._answers()

    def _answers(self) -> bool:
        try:
            self._admin("SELECT 1")
            return True
        except Exception as exc:  # any failure means: use SQLite
            print(f"PostgreSQL not reachable ({type(exc).__name__}); using SQLite.")
            return False

    def _admin(self, statement: str) -> list:
        import sqlalchemy as sa

        engine = sa.create_engine(f"{self.server}/postgres", isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                result = connection.execute(sa.text(statement))
                return result.all() if result.returns_rows else []
        finally:
            engine.dispose()

    def fresh(self, sqlite_only: bool = False) -> str:
        name = f"bench_{uuid.uuid4().hex[:10]}"
        if self.postgres and not sqlite_only:
            self._admin(f"CREATE DATABASE {name}")
            self.created.append(name)
            return f"{self.server}/{name}"
        return f"sqlite:///{self.folder / (name + '.sqlite3')}"

    def drop_all(self) -> None:
        for name in self.created:
            self._admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            # The template manage.py test keeps for the test databases of ``name`` (the plugin's cache).
            for (template,) in self._admin(f"SELECT datname FROM pg_database WHERE datname LIKE 'test_{name}_tpl_%'"):
                self._admin(f"ALTER DATABASE {template} IS_TEMPLATE false")
                self._admin(f"DROP DATABASE {template} WITH (FORCE)")


def timed(command: list[str], cwd: Path, url: str | None, setup=None, env: dict | None = None,
          empty_cache: bool = False) -> tuple[float, float]:
    """Wall-clock and CPU seconds (user + system) of one run of ``command``; with
    ``empty_cache``, as on a fresh CI runner: a cache folder of its own, empty."""
    env = {**{k: v for k, v in os.environ.items() if k != "DATABASE_URL"}, **(env or {})}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    # Beside the generated projects, removed with them.
    env["XDG_CACHE_HOME"] = tempfile.mkdtemp(dir=cwd.parent) if empty_cache else str(cwd.parent / "cache")
    if url is not None:
        env["DATABASE_URL"] = url
    if setup is not None:
        env["DATABASE_URL"] = setup()
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    if result.returncode not in (0,):
        raise SystemExit(f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return elapsed, cpu


def compare(title, ours, theirs, target, repeat, cwd, url=None, setup=None, their_cwd=None, their_env=None,
            empty_cache=False, their_setup=None):
    """Run both commands alternately; print the medians of wall-clock time (which the target
    is about) and, for a machine that is busy with other work, of CPU time; return whether the
    target is met. A comparison with no target is printed for information only."""
    timed(ours, cwd, url, setup)  # warm-up: caches, the OS's file cache
    timed(theirs, their_cwd or cwd, url, their_setup or setup, their_env)
    mine, other = [], []
    for _ in range(repeat):
        mine.append(timed(ours, cwd, url, setup, empty_cache=empty_cache))
        other.append(timed(theirs, their_cwd or cwd, url, their_setup or setup, their_env))
    wall = [statistics.median(run[0] for run in runs) for runs in (mine, other)]
    cpu = [statistics.median(run[1] for run in runs) for runs in (mine, other)]
    ratio = wall[0] / wall[1]
    met = target is None or ratio <= target
    verdict = "(for comparison)" if target is None else f"target <= {target:.2f}x  {'ok' if met else 'MISSED'}"
    print(f"{title:<66} {wall[0]:6.3f}s {wall[1]:6.3f}s {ratio:5.2f}x (cpu {cpu[0] / cpu[1]:4.2f}x)  {verdict}")
    return met


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--database", default="postgresql+psycopg2://postgres@127.0.0.1:5432",
                        help="a PostgreSQL server URL without a database name")
    args = parser.parse_args()
    python = sys.executable
    alembic = [python, "-m", "alembic"]
    try:
        import django  # noqa: F401
        have_django = True
    except ImportError:
        have_django = False
        print("Django is not installed: its comparisons are skipped (pip install django).")

    with tempfile.TemporaryDirectory(prefix="manage-bench-") as tmp:
        tmp = Path(tmp).resolve()
        (tmp / "p200").mkdir()
        (tmp / "p1000").mkdir()
        small = generate_project(tmp / "p200", 200)
        large = generate_project(tmp / "p1000", 1000)
        django_small = generate_django(Path(tmp / "dj200"), 200) if have_django else None
        databases = Databases(args.database, tmp)
        kind = "PostgreSQL" if databases.postgres else "SQLite"
        results = []
        print(f"{f'medians of {args.repeat} runs each ({3 * args.repeat} for --help)':<66} {'ours':>7} {'theirs':>7} {'ratio':>5}")
        try:
            # The interpreter's own start-up, which every command pays: the floor under --help.
            startup = statistics.median(timed([python, "-c", "pass"], small, None)[0] for _ in range(args.repeat))
            print(f"{'python -c pass (start-up alone, for reference)':<66} {startup:6.3f}s")
            # --help takes a tenth of a second, where the machine's noise weighs most: more runs.
            for command in ([], ["makemigrations"], ["migrate"], ["showmigrations"], ["fake"]):
                results.append(compare(f"manage.py {' '.join(command + ['--help'])} vs alembic --help",
                                       [python, "manage.py", *command, "--help"], [*alembic, "--help"],
                                       0.15, 3 * args.repeat, small))
            results.append(compare(f"migrate, 200 migrations, fresh {kind} vs alembic upgrade head",
                                   [python, "manage.py", "migrate"], [*alembic, "upgrade", "head"],
                                   1.00, args.repeat, small, setup=databases.fresh))
            compare(f"migrate, 200 migrations, fresh {kind} vs alembic, a transaction each",
                    [python, "manage.py", "migrate"], [*alembic, "upgrade", "head"],
                    None, args.repeat, small, setup=databases.fresh, their_env={"BENCH_PER_MIGRATION": "1"})
            if have_django:
                results.append(compare(f"migrate, 200 migrations, fresh {kind} vs Django migrate",
                                       [python, "manage.py", "migrate"],
                                       [python, "-m", "django", "migrate", "--settings=settings"],
                                       1.00, args.repeat, small, setup=databases.fresh, their_cwd=django_small))
            # The warm-up builds the template; each timed run's test database is a copy of it.
            compare(f"manage.py test, fresh test database, 200 migrations, {kind} vs migrate",
                    [python, "manage.py", "test", "-q", "-p", "no:cacheprovider", "tests"],
                    [python, "manage.py", "migrate"], None, args.repeat, add_test(small), url=databases.fresh(),
                    their_setup=databases.fresh)
            squashed = squash_copy(small, tmp / "squashed200", databases.fresh())
            for name, theirs, their_cwd in (("manage.py migrate through the 200", [python, "manage.py", "migrate"], small),
                                            ("alembic upgrade head through the 200", [*alembic, "upgrade", "head"], small)):
                compare(f"migrate, 200 squashed into 1, fresh {kind} vs {name}", [python, "manage.py", "migrate"],
                        theirs, None, args.repeat, squashed, setup=databases.fresh, their_cwd=their_cwd)
            at_head = databases.fresh()
            timed([python, "manage.py", "migrate"], large, at_head)
            timed([*alembic, "stamp", "head"], large, at_head)
            results.append(compare(f"migrate at head, 1000 migrations, {kind} vs alembic upgrade head",
                                   [python, "manage.py", "migrate"], [*alembic, "upgrade", "head"],
                                   0.50, args.repeat, large, url=at_head))
            results.append(compare(f"migrate --check, 1000 migrations, {kind} vs alembic upgrade head",
                                   [python, "manage.py", "migrate", "--check"], [*alembic, "upgrade", "head"],
                                   0.50, args.repeat, large, url=at_head))
            results.append(compare("showmigrations, 1000 migrations vs alembic history --indicate-current",
                                   [python, "manage.py", "showmigrations"],
                                   [*alembic, "history", "--indicate-current"],
                                   0.50, args.repeat, large, url=at_head))
            if have_django:
                sqlite_url = databases.fresh(sqlite_only=True)
                for cache, target in (("warm scratch database", 1.00), ("empty cache folder", 2.00)):
                    results.append(compare(f"makemigrations --check, 200 migrations, SQLite, {cache} vs Django's",
                                           [python, "manage.py", "makemigrations", "--check"],
                                           [python, "-m", "django", "makemigrations", "--check", "--settings=settings"],
                                           target, args.repeat, small, url=sqlite_url, their_cwd=django_small,
                                           empty_cache=cache == "empty cache folder"))
        finally:
            databases.drop_all()
    missed = results.count(False)
    print(f"{len(results) - missed} of {len(results)} targets met")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
