"""Times manage.py against bare Alembic (and Django, when installed) on generated migrations.

    python benchmarks/run.py [--repeat 7] [--database postgresql+psycopg2://postgres@127.0.0.1:5432]
                             [--no-instructions] [--no-growth] [--only head --only growth ...]

In a temporary folder it generates copies of this project whose ``migrations/versions`` hold
N generated migrations (one table and one index each) and whose models match them; a bare
Alembic environment (Alembic's generic ``env.py``) over the same versions folder; and, when
Django is importable, a Django project with N equivalent migrations. Each figure is a ratio
measured in one run of this script: the commands take turns, ``--repeat`` times (three times
that for ``--help``) after one warm-up run each, and the figure is the ratio of their median
wall-clock times, with the CPU ratio beside it (for a machine busy with other work). Where
valgrind is installed, the at-head lines (1,000 migrations) and the ``makemigrations --check``
lines (200) also run each side once under callgrind and print the ratio of instructions
executed, which the machine's noise does not move (``--no-instructions`` skips them: valgrind is
~50x slower, too slow for the growth table). A target missed prints
``MISSED`` and by how much, and the script exits 1. The lines "for comparison" carry no target:
Python's bare start-up, Alembic running all migrations in one transaction (manage.py runs one
per migration, as the production-safety issue requires), ``manage.py test`` making a fresh test
database (a copy of the template the first session migrated), and squashed migrations.

The growth table (``--no-growth`` skips it) times migrate at head, showmigrations and
makemigrations --check (warm, SQLite) at 50, 200, 1,000 and 5,000 migrations, for manage.py,
bare Alembic and Django, each as seconds and as a ratio to its own time at 50: a command whose
cost follows the number of migrations shows it there. Its targets: manage.py's migrate and
showmigrations at 5,000 within 1.3x of their own time at 50, and its makemigrations --check at
most half Django's. Django at 5,000 takes 5-50 s a command, so it runs once, without a warm-up.
PostgreSQL is used when the server answers, SQLite otherwise; the makemigrations lines are
SQLite, as Django's. Our package's bytecode is compiled first, as pip compiles an installed
package's (the libraries compared with have theirs). ``--only`` runs some sections, for work on one. At ``--repeat 3`` the whole
run takes ~12 minutes on two cores: the growth table half of it, valgrind a third.
"""
import argparse
import importlib.util
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

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
    folder.mkdir()
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
    timed(Run([sys.executable, "manage.py", "squashmigrations", last, "--noinput"], folder, url))
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


@dataclass
class Run:
    """One command as the benchmark runs it: in ``cwd``, on ``url`` or on the fresh database
    ``setup`` makes for each run; ``empty_cache`` as on a fresh CI runner (a cache folder of its
    own, empty); ``once``: too slow to repeat (Django at 5,000), one run and no warm-up."""
    command: list[str]
    cwd: Path
    url: str | None = None
    setup: Callable[[], str] | None = None
    env: dict = field(default_factory=dict)
    empty_cache: bool = False
    once: bool = False

    def environment(self) -> dict:
        """The run's environment; a fresh database (and cache folder) when the run asks for one."""
        env = {**{k: v for k, v in os.environ.items() if k != "DATABASE_URL"}, **self.env}
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        # Beside the generated projects, removed with them.
        folder = self.cwd.parent
        env["XDG_CACHE_HOME"] = tempfile.mkdtemp(dir=folder) if self.empty_cache else str(folder / "cache")
        url = self.setup() if self.setup is not None else self.url
        if url is not None:
            env["DATABASE_URL"] = url
        return env

    def key(self) -> tuple:
        """What makes two runs the same command on the same database."""
        return (*self.command, self.cwd, self.url, *sorted(self.env.items()), self.empty_cache)


def timed(run: Run) -> tuple[float, float]:
    """Wall-clock and CPU seconds (user + system) of one run."""
    env = run.environment()
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(run.command, cwd=run.cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(run.command)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return elapsed, cpu


def measure(runs: list[Run], repeat: int) -> list[tuple[float, float]]:
    """Median wall-clock and CPU seconds of each run. The runs take turns, so that a change in
    the machine's load falls on all of them alike; each runs once first, untimed, to warm the
    caches (the OS's, manage.py's), but a ``once`` run, which runs in the first turn only."""
    for run in runs:
        if not run.once:
            timed(run)
    times = [[] for _ in runs]
    for turn in range(repeat):
        for run, seen in zip(runs, times):
            if turn == 0 or not run.once:
                seen.append(timed(run))
    return [(statistics.median(t[0] for t in seen), statistics.median(t[1] for t in seen)) for seen in times]


_instructions: dict[tuple, int] = {}  # a command counted once serves every line that compares with it


def instructions(runs: list[Run]) -> list[int]:
    """Instructions each run executes (callgrind's Ir, its children's included), side by side:
    valgrind is single-threaded and its counts do not depend on the machine's load."""
    with tempfile.TemporaryDirectory() as folder:
        started = {}
        for number, run in enumerate(runs):
            if run.key() not in _instructions and run.key() not in started:
                out = Path(folder) / str(number)
                out.mkdir()
                started[run.key()] = run, out, subprocess.Popen(
                    ["valgrind", "--tool=callgrind", "-q", "--trace-children=yes",
                     f"--callgrind-out-file={out}/callgrind.%p", *run.command],
                    cwd=run.cwd, env=run.environment(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for key, (run, out, process) in started.items():
            _, stderr = process.communicate()
            if process.returncode != 0:
                raise SystemExit(f"valgrind {' '.join(run.command)} failed ({process.returncode}):\n{stderr}")
            _instructions[key] = sum(map(total_ir, out.iterdir()))
    return [_instructions[run.key()] for run in runs]


def total_ir(path: Path) -> int:
    """The Ir total of a callgrind output file: its ``summary:`` line, in its ``events:`` order."""
    fields = {}
    for line in path.read_text(errors="replace").splitlines():
        name, _, value = line.partition(": ")
        if name in ("events", "summary", "totals") and name not in fields:
            fields[name] = value.split()
    return int((fields.get("summary") or fields["totals"])[fields["events"].index("Ir")])


def report(title: str, mine: tuple, theirs: tuple, target: float | None, counts: list[int] | None = None) -> bool:
    """Print one figure: the medians (wall-clock, CPU) of both sides, their ratios, the
    instruction ratio when counted, and the verdict; return whether the target is met."""
    ratio = mine[0] / theirs[0]
    met = target is None or ratio <= target
    instr = f" (instr {counts[0] / counts[1]:4.2f}x)" if counts else ""
    if target is None:
        verdict = "(for comparison)"
    else:
        verdict = f"target <= {target:.2f}x  " + ("ok" if met else f"MISSED by {ratio - target:.2f}x")
    cpu = mine[1] / theirs[1]
    print(f"{title:<66} {mine[0]:6.3f}s {theirs[0]:6.3f}s {ratio:5.2f}x (cpu {cpu:4.2f}x){instr}  {verdict}", flush=True)
    return met


def compare(title: str, ours: Run, theirs: Run, target: float | None, repeat: int, count: bool = False) -> bool:
    """Time both alternately and report the ratio; with ``count``, the instruction ratio too."""
    mine, other = measure([ours, theirs], repeat)
    return report(title, mine, other, target, instructions([ours, theirs]) if count else None)


class Projects:
    """The generated projects and their databases, each made once, when first asked for."""

    def __init__(self, folder: Path, databases: "Databases"):
        self.folder, self.databases, self.made = folder, databases, {}
        self.sqlite = databases.fresh(sqlite_only=True)  # for makemigrations, as Django's

    def _once(self, key, make):
        if key not in self.made:
            self.made[key] = make()
        return self.made[key]

    def ours(self, count: int) -> Path:
        return self._once(("ours", count), lambda: generate_project(self.folder / f"p{count}", count))

    def django(self, count: int) -> Path:
        return self._once(("django", count), lambda: generate_django(self.folder / f"dj{count}", count))

    def head(self, count: int) -> str:
        """A database at head for both manage.py and Alembic (they share the version table):
        faked, since neither reads the tables there."""
        def make():
            url = self.databases.fresh()
            timed(Run([sys.executable, "manage.py", "migrate", "--fake"], self.ours(count), url))
            return url
        return self._once(("head", count), make)

    def django_head(self, count: int) -> str:
        def make():
            url = self.databases.fresh()
            timed(Run([sys.executable, "-m", "django", "migrate", "--fake", "--settings=settings"],
                      self.django(count), url))
            return url
        return self._once(("django_head", count), make)


SIZES = (50, 200, 1000, 5000)


def growth(projects: Projects, repeat: int, have_django: bool, kind: str) -> list[bool]:
    """The growth table and its targets: for each command, every size of every tool takes turns
    (Django at the largest, once), each shown as seconds and as a ratio to its own time at 50."""
    python, alembic, django = sys.executable, [sys.executable, "-m", "alembic"], [sys.executable, "-m", "django"]
    ours, dj, largest = projects.ours, projects.django, SIZES[-1]
    commands = {
        "migrate at head": {
            "manage.py": lambda n: Run([python, "manage.py", "migrate"], ours(n), projects.head(n)),
            "alembic upgrade head": lambda n: Run([*alembic, "upgrade", "head"], ours(n), projects.head(n)),
            "Django": lambda n: Run([*django, "migrate", "--settings=settings"], dj(n), projects.django_head(n),
                                    once=n == largest)},
        "showmigrations": {
            "manage.py": lambda n: Run([python, "manage.py", "showmigrations"], ours(n), projects.head(n)),
            "alembic history --indicate-current": lambda n: Run([*alembic, "history", "--indicate-current"],
                                                                ours(n), projects.head(n)),
            "Django": lambda n: Run([*django, "showmigrations", "--settings=settings"], dj(n),
                                    projects.django_head(n), once=n == largest)},
        "makemigrations --check": {
            "manage.py": lambda n: Run([python, "manage.py", "makemigrations", "--check"], ours(n), projects.sqlite),
            # (bare Alembic has no makemigrations --check to compare)
            "Django": lambda n: Run([*django, "makemigrations", "--check", "--settings=settings"], dj(n),
                                    projects.sqlite, once=n == largest)},
    }
    print(f"\ngrowth: medians of {repeat} runs (Django at {largest:,}: one run, no warm-up); at head on {kind},"
          " makemigrations on SQLite")
    print(f"{'migrations:':<68}" + "".join(f"{n:>17,}" for n in SIZES), flush=True)
    medians = {}
    for command, tools in commands.items():
        tools = {tool: run for tool, run in tools.items() if have_django or tool != "Django"}
        keys = [(tool, n) for tool in tools for n in SIZES]
        results = measure([tools[tool](n) for tool, n in keys], repeat)
        medians.update({(command, *key): result for key, result in zip(keys, results)})
        for tool in tools:
            wall = [medians[command, tool, n][0] for n in SIZES]
            cells = "".join(f"{w:8.3f}s {w / wall[0]:6.2f}x" for w in wall)
            print(f"  {command + ', ' + tool:<66}{cells}", flush=True)
    results = [report(f"{command}, {largest:,} vs 50 migrations, manage.py", medians[command, "manage.py", largest],
                      medians[command, "manage.py", 50], 1.30) for command in ("migrate at head", "showmigrations")]
    if have_django:
        results.append(report(f"makemigrations --check, {largest:,} migrations, SQLite, warm vs Django's",
                              medians["makemigrations --check", "manage.py", largest],
                              medians["makemigrations --check", "Django", largest], 0.50))
    return results


SECTIONS = ("help", "fresh", "head", "makemigrations", "growth")


def compile_package() -> None:
    """Our package's bytecode, written once, as pip writes it when it installs a package (and
    has for Alembic, SQLAlchemy and Django): an editable install has none, and with
    PYTHONDONTWRITEBYTECODE=1 every run would compile our modules again, which no user's does."""
    import compileall

    import manage_migrations

    compileall.compile_dir(Path(manage_migrations.__file__).parent, quiet=1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--database", default="postgresql+psycopg2://postgres@127.0.0.1:5432",
                        help="a PostgreSQL server URL without a database name")
    parser.add_argument("--instructions", action=argparse.BooleanOptionalAction, default=True,
                        help="count instructions under valgrind for the at-head and makemigrations lines")
    parser.add_argument("--growth", action=argparse.BooleanOptionalAction, default=True,
                        help="the growth table, 50 to 5,000 migrations")
    parser.add_argument("--only", action="append", choices=SECTIONS,
                        help="run only this section (repeatable), when working on one")
    args = parser.parse_args()
    sections = set(args.only or SECTIONS) - (set() if args.growth else {"growth"})
    python = sys.executable
    alembic = [python, "-m", "alembic"]
    django = [python, "-m", "django"]
    have_django = importlib.util.find_spec("django") is not None
    if not have_django:
        print("Django is not installed: its comparisons are skipped (pip install django).")
    count = args.instructions and shutil.which("valgrind") is not None
    if args.instructions and not count:
        print("valgrind is not on PATH: no instruction counts.")
    compile_package()

    with tempfile.TemporaryDirectory(prefix="manage-bench-") as tmp:
        tmp = Path(tmp).resolve()
        databases = Databases(args.database, tmp)
        projects = Projects(tmp, databases)
        kind = "PostgreSQL" if databases.postgres else "SQLite"
        results = []
        header = f"medians of {args.repeat} runs each ({3 * args.repeat} for --help)"
        header += "; instr: one callgrind run each" if count else ""
        print(f"{header:<66} {'ours':>7} {'theirs':>7} {'ratio':>5}", flush=True)
        try:
            small = projects.ours(200)
            if "help" in sections:
                # The interpreter's own start-up, which every command pays: the floor under --help.
                startup = statistics.median(timed(Run([python, "-c", "pass"], small))[0] for _ in range(args.repeat))
                print(f"{'python -c pass (start-up alone, for reference)':<66} {startup:6.3f}s")
                # --help takes a tenth of a second, where the machine's noise weighs most: more runs.
                for command in ([], ["makemigrations"], ["migrate"], ["showmigrations"], ["fake"]):
                    results.append(compare(f"manage.py {' '.join(command + ['--help'])} vs alembic --help",
                                           Run([python, "manage.py", *command, "--help"], small),
                                           Run([*alembic, "--help"], small), 0.15, 3 * args.repeat))
            if "fresh" in sections:
                fresh = Run([python, "manage.py", "migrate"], small, setup=databases.fresh)
                alembic_fresh = Run([*alembic, "upgrade", "head"], small, setup=databases.fresh)
                results.append(compare(f"migrate, 200 migrations, fresh {kind} vs alembic, a transaction each",
                                       fresh, replace(alembic_fresh, env={"BENCH_PER_MIGRATION": "1"}),
                                       1.00, args.repeat))
                compare(f"migrate, 200 migrations, fresh {kind} vs alembic upgrade head", fresh, alembic_fresh,
                        None, args.repeat)
                if have_django:
                    results.append(compare(f"migrate, 200 migrations, fresh {kind} vs Django migrate", fresh,
                                           Run([*django, "migrate", "--settings=settings"], projects.django(200),
                                               setup=databases.fresh), 0.80, args.repeat))
                # The warm-up builds the template; each timed run's test database is a copy of it.
                compare(f"manage.py test, fresh test database, 200 migrations, {kind} vs migrate",
                        Run([python, "manage.py", "test", "-q", "-p", "no:cacheprovider", "tests"], add_test(small),
                            databases.fresh()), fresh, None, args.repeat)
                squashed = squash_copy(small, tmp / "squashed200", databases.fresh())
                for name, theirs in (("manage.py migrate through the 200", fresh),
                                     ("alembic upgrade head through the 200", alembic_fresh)):
                    compare(f"migrate, 200 squashed into 1, fresh {kind} vs {name}",
                            Run([python, "manage.py", "migrate"], squashed, setup=databases.fresh), theirs,
                            None, args.repeat)
            if "head" in sections:
                large, at_head = projects.ours(1000), projects.head(1000)
                upgrade = Run([*alembic, "upgrade", "head"], large, at_head)
                for command in (["migrate"], ["migrate", "--check"]):
                    title = f"{' '.join(command)} at head, 1000 migrations, {kind} vs alembic upgrade head"
                    results.append(compare(title, Run([python, "manage.py", *command], large, at_head), upgrade,
                                           0.30, args.repeat, count))
                results.append(compare("showmigrations, 1000 migrations vs alembic history --indicate-current",
                                       Run([python, "manage.py", "showmigrations"], large, at_head),
                                       Run([*alembic, "history", "--indicate-current"], large, at_head),
                                       0.30, args.repeat, count))
            if "makemigrations" in sections and have_django:
                theirs = Run([*django, "makemigrations", "--check", "--settings=settings"], projects.django(200),
                             projects.sqlite)
                for cache, target in (("warm scratch database", 1.20), ("empty cache folder", 2.00)):
                    results.append(compare(f"makemigrations --check, 200 migrations, SQLite, {cache} vs Django's",
                                           Run([python, "manage.py", "makemigrations", "--check"], small,
                                               projects.sqlite, empty_cache=cache == "empty cache folder"),
                                           theirs, target, args.repeat, count))
            if "growth" in sections:
                results += growth(projects, args.repeat, have_django, kind)
        finally:
            databases.drop_all()
    missed = results.count(False)
    print(f"{len(results) - missed} of {len(results)} targets met")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
