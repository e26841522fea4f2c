"""The record read through the driver alone (``direct``), without SQLAlchemy: the connection is
opened with exactly what SQLAlchemy would give the driver, or not at all; and migrate and
showmigrations say the same, exit the same and leave the database the same with it as without."""
import dataclasses
import importlib
import importlib.util
import json
import socket

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from manage_migrations import database, direct, tables

REPO_MIGRATIONS = ("0001_create_table_hotels", "0002_create_table_rooms", "0003_add_users", "0004_make_email_unique")
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10, "keepalives_count": 3}

# URLs read here exactly as SQLAlchemy reads them ({tmp}: a folder whose SQLite files exist).
SAME = [
    "postgresql+psycopg2://postgres@127.0.0.1:5432/hotels",
    "postgresql+psycopg2://us%40er:p%25ss%3Aw%2Fd@db.example.com:6432/my%20db",
    "postgresql+psycopg2://deploy:@db.example.com/hotels",  # an empty password is none
    "postgresql+psycopg2://[::1]:5432/hotels",
    "postgresql+psycopg2:///hotels?host=/var/run/postgresql",
    "postgresql+psycopg2://deploy@/hotels?host=/var/run/postgresql&sslmode=verify-full&application_name=web",
    "postgresql+psycopg2://deploy@db/hotels?connect_timeout=3&keepalives_idle=5&target_session_attrs=read-write",
    "postgresql+psycopg2://deploy@db/hotels?options=-c%20statement_timeout%3D5000&sslmode=",
    "postgresql+psycopg2://",  # libpq's environment alone
    "postgres://deploy:secret@db/hotels",
    "postgresql://deploy:secret@db:5433/hotels",
    "mysql+pymysql://root@127.0.0.1:3306/hotels",
    "mysql://deploy:p%40ss@db/hotels?charset=utf8mb4",
    "mariadb+pymysql://deploy@db:3307/hotels?ssl_ca=/etc/ca.pem&ssl_cert=/etc/client.pem&ssl_key=/etc/key.pem",
    "mariadb://deploy@db/hotels",
    "mysql+pymysql://deploy@db/",
    "sqlite:///{tmp}/absolute.sqlite3",
    "sqlite+pysqlite:///{tmp}/absolute.sqlite3",
    "sqlite:///relative.sqlite3",
    "sqlite:///folder/../relative.sqlite3",
    "sqlite:///with%20space.sqlite3",
]
PSYCOPG = ["postgresql+psycopg://deploy:secret@db/hotels?sslmode=require", "postgres+psycopg:///hotels?host=/tmp"]
if not importlib.util.find_spec("psycopg"):
    PSYCOPG = [pytest.param(url, marks=pytest.mark.skip(reason="psycopg 3 is not installed")) for url in PSYCOPG]
# URLs left to SQLAlchemy: whatever SQLAlchemy would make of them, nothing is opened here.
FALLBACK = [
    "postgresql+asyncpg://deploy@db/hotels",
    "postgresql+psycopg_async://deploy@db/hotels",
    "postgresql+pg8000://deploy@db/hotels",
    "postgresql+psycopg2://deploy@/hotels?host=db1:5432&host=db2:5432",  # several hosts
    "postgresql+psycopg2://deploy@/hotels?host=db1,db2",
    "postgresql+psycopg2://deploy@/hotels?host=db1:5433",
    "postgresql+psycopg2://deploy@db/hotels?port=5433",
    "postgresql+psycopg2://deploy@db/hotels?options=a&options=b",  # a repeated key
    "postgresql+psycopg2://deploy@db/hotels?plugin=tracing",
    "postgresql+psycopg2://deploy:p@ss@db/hotels",  # a raw '@': parse_url's error
    "postgresql+psycopg2://deploy@db:port/hotels",
    "postgresql+psycopg2://deploy@db:/hotels",
    "mysql+mysqldb://deploy@db/hotels",
    "mysql+aiomysql://deploy@db/hotels",
    "mariadb+mariadbconnector://deploy@db/hotels",
    "mysql+pymysql://deploy@db/hotels?connect_timeout=3",
    "mysql+pymysql://deploy@db/hotels?ssl_check_hostname=false",
    "mysql+pymysql://deploy@db/hotels?charset=utf8&charset=latin1",
    "sqlite://",
    "sqlite:///:memory:",
    "sqlite:///{tmp}/missing.sqlite3",  # never created by a read
    "sqlite:///{tmp}/absolute.sqlite3?timeout=3",
    "sqlite:///file:{tmp}/absolute.sqlite3?mode=ro&uri=true",
    "sqlite://deploy@/{tmp}/absolute.sqlite3",
    "sqlite+aiosqlite:///{tmp}/absolute.sqlite3",
    "oracle://deploy@db/hotels",
    "not a url",
]


class Connected(Exception):
    """Raised by the listener: SQLAlchemy got as far as calling the driver."""


def sqlalchemy_connect_arguments(url_text: str, base_dir) -> tuple:
    """The driver's connect() SQLAlchemy calls, through our parse_url and create_engine, and
    what it hands it (sqlite3's is ``sqlite3.dbapi2.connect``, the same function). The copy of
    psycopg's default adapters SQLAlchemy gives psycopg (``context``) is left out: the direct
    read uses those defaults themselves."""
    engine = database.create_engine(database.parse_url(url_text, base_dir))
    seen = {}

    def capture(dialect, connection_record, cargs, cparams):
        seen.update(connect=dialect.loaded_dbapi.connect, args=list(cargs), kwargs=dict(cparams))
        raise Connected

    event.listen(engine, "do_connect", capture)
    try:
        with pytest.raises(Connected):
            engine.connect()
    finally:
        engine.dispose()
    if "context" in seen["kwargs"]:
        assert type(seen["kwargs"].pop("context")).__name__ == "AdaptersMap"
    return seen["connect"], seen["args"], seen["kwargs"]


def connect_arguments(url_text: str, base_dir) -> tuple | None:
    """``direct.connect_arguments``, with the driver's connect() in place of its module's name."""
    found = direct.connect_arguments(url_text, base_dir)
    return found and (importlib.import_module(found[0]).connect, *found[1:])


@pytest.fixture
def sqlite_files(tmp_path):
    for name in ("absolute.sqlite3", "relative.sqlite3", "with space.sqlite3"):
        (tmp_path / name).touch()
    (tmp_path / "folder").mkdir()
    return tmp_path


@pytest.mark.parametrize("url", SAME + PSYCOPG)
def test_a_url_read_here_gives_the_driver_what_sqlalchemy_gives_it(url, sqlite_files):
    url = url.format(tmp=sqlite_files)

    ours = connect_arguments(url, sqlite_files)

    assert ours is not None
    assert ours == sqlalchemy_connect_arguments(url, sqlite_files)


def test_a_bare_postgresql_url_is_read_with_psycopg_when_installed(monkeypatch, tmp_path):
    """As parse_url chooses (the connection is opened with the same arguments either way)."""
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: object() if name == "psycopg" else real(name))

    driver, args, kwargs = direct.connect_arguments("postgresql://deploy@db/hotels", tmp_path)

    assert (driver, args) == ("psycopg", [])
    assert kwargs == {"host": "db", "dbname": "hotels", "user": "deploy", "connect_timeout": 10, **KEEPALIVES}


def test_a_bare_mysql_url_is_left_to_sqlalchemy_where_mysqlclient_is_installed(monkeypatch, tmp_path):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: object() if name == "MySQLdb" else real(name))

    assert direct.connect_arguments("mysql://deploy@db/hotels", tmp_path) is None
    assert direct.connect_arguments("mysql+pymysql://deploy@db/hotels", tmp_path)[0] == "pymysql"


@pytest.mark.parametrize("url", FALLBACK)
def test_a_url_not_certain_to_be_read_alike_is_left_to_sqlalchemy(url, sqlite_files):
    assert direct.connect_arguments(url.format(tmp=sqlite_files), sqlite_files) is None
    assert not (sqlite_files / "missing.sqlite3").exists()


# Same answers, with the direct read and without it.

@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def twin_urls(request, tmp_path):
    """Two fresh databases of one kind: one for each way of reading, where a command writes."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'one.sqlite3'}", f"sqlite:///{tmp_path / 'two.sqlite3'}"
    kind = "postgres" if request.param == "postgresql" else "mariadb"
    return request.getfixturevalue(f"{kind}_url"), request.getfixturevalue(f"other_{kind}_url")


def run_sql(url: str, *statements: str) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            for statement in statements:
                connection.exec_driver_sql(statement)
    finally:
        engine.dispose()


def database_state(url: str, version_table: str = "alembic_version", schema: str | None = None) -> dict:
    """Every table, the version table's rows, the revisions in the history and what is unfinished."""
    history, unfinished = tables.record_tables(version_table)
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            present = set(sa.inspect(connection).get_table_names(schema=schema))

            def rows(table, *columns):
                if table not in present:
                    return None
                query = sa.select(*(sa.column(name) for name in columns)).select_from(sa.table(table, schema=schema))
                return sorted(tuple(row) for row in connection.execute(query))

            return {"tables": present, "version": rows(version_table, "version_num"),
                    "history": rows(history, "revision"), "unfinished": rows(unfinished, "revision", "forward")}
    finally:
        engine.dispose()


@pytest.fixture
def spied_reads(monkeypatch):
    """What each ``direct.read`` of the test answered."""
    answers, real = [], direct.read

    def spy(*args, **kwargs):
        answers.append(real(*args, **kwargs))
        return answers[-1]

    monkeypatch.setattr(direct, "read", spy)
    return answers


READS = [["showmigrations"], ["showmigrations", "-v", "2"], ["showmigrations", "--format", "json"],
         ["showmigrations", "--plan"], ["showmigrations", "project"], ["migrate", "--check"], ["migrate", "--plan"],
         ["migrate", "--plan", "--format", "json"], ["migrate", "project", "--check"], ["migrate", "0002", "--check"],
         ["migrate", "0002", "--plan"], ["migrate", "head", "--plan"]]


def same_answers(manage, monkeypatch, spied_reads, settings_of, urls, expect_direct: bool, then=(("migrate",),),
                 **state_options) -> None:
    """Every reading command on the first database, with the direct read and with it off: the
    same output and exit code, and nothing changed; then each command of ``then`` on each
    database (with the direct read on the first, off on the second): the same output, exit
    code and state after."""
    first, second = urls
    before = database_state(first, **state_options)
    for command in READS:
        spied_reads.clear()
        direct_way = manage(*command, settings=settings_of(first))
        assert spied_reads and all((answer is not None) == expect_direct for answer in spied_reads), command
        with monkeypatch.context() as off:
            off.setattr(direct, "read", lambda *args, **kwargs: None)
            sqlalchemy_way = manage(*command, settings=settings_of(first))
        assert (direct_way.exit_code, direct_way.output) == (sqlalchemy_way.exit_code, sqlalchemy_way.output), command
        assert isinstance(direct_way.exception, (SystemExit, type(None))), (command, direct_way.exception)
    assert database_state(first, **state_options) == before
    for command in then:
        direct_way = manage(*command, settings=settings_of(first))
        with monkeypatch.context() as off:
            off.setattr(direct, "read", lambda *args, **kwargs: None)
            sqlalchemy_way = manage(*command, settings=settings_of(second))
        assert (direct_way.exit_code, direct_way.output) == (sqlalchemy_way.exit_code, sqlalchemy_way.output), command
        assert database_state(first, **state_options) == database_state(second, **state_options), command


@pytest.fixture
def settings_of(make_settings, project_copy, tmp_path):
    """``settings_of(url)``: the copied project's settings on ``url``, caching in the test's folder."""
    return lambda url: dataclasses.replace(make_settings(project_copy, url), cache_dir=tmp_path / "cache")


def prepare(manage, settings_of, urls, *commands, statements=()):
    for url in urls:
        for command in commands:
            result = manage(*command, settings=settings_of(url))
            assert result.exit_code == 0, result.output
        if statements:
            run_sql(url, *statements)


def test_at_head(manage, monkeypatch, spied_reads, settings_of, twin_urls):
    prepare(manage, settings_of, twin_urls, ["migrate"])
    same_answers(manage, monkeypatch, spied_reads, settings_of, twin_urls, expect_direct=True,
                 then=[["migrate"], ["migrate", "project"], ["migrate", "0004"], ["fake", "0004"]])
    assert database_state(twin_urls[0])["version"] == [("0004_make_email_unique",)]


def test_part_way(manage, monkeypatch, spied_reads, settings_of, twin_urls):
    prepare(manage, settings_of, twin_urls, ["migrate", "0002"])
    same_answers(manage, monkeypatch, spied_reads, settings_of, twin_urls, expect_direct=True,
                 then=[["migrate", "0002"], ["migrate", "0001"], ["migrate"]])
    assert database_state(twin_urls[0])["version"] == [("0004_make_email_unique",)]


def test_with_no_version_table_yet(manage, monkeypatch, spied_reads, settings_of, twin_urls):
    """An empty database: left to SQLAlchemy's path, whatever it has to say."""
    same_answers(manage, monkeypatch, spied_reads, settings_of, twin_urls, expect_direct=False)


def test_with_an_empty_unfinished_table_and_a_changed_file(manage, monkeypatch, spied_reads, settings_of,
                                                         twin_urls, project_copy):
    """The unfinished table there but empty (read, no row); an applied file edited since (marked)."""
    prepare(manage, settings_of, twin_urls, ["migrate"],
            statements=["CREATE TABLE IF NOT EXISTS manage_migrations_unfinished (revision VARCHAR(255) PRIMARY KEY, "
                        "forward BOOLEAN NOT NULL)"])
    migration = project_copy / "migrations" / "versions" / f"{REPO_MIGRATIONS[1]}.py"
    migration.write_text(migration.read_text() + "\n# edited after it ran\n")
    same_answers(manage, monkeypatch, spied_reads, settings_of, twin_urls, expect_direct=True)
    shown = manage("showmigrations", "--format", "json", settings=settings_of(twin_urls[0]))
    changed = [m["name"] for app in json.loads(shown.output)["apps"] for m in app["migrations"]
               if m["changed_since_applied"]]
    assert changed == [REPO_MIGRATIONS[1]]


def test_with_an_unfinished_migration(manage, monkeypatch, spied_reads, settings_of, twin_urls):
    """A row in the unfinished table: left to SQLAlchemy's path, which names it."""
    prepare(manage, settings_of, twin_urls, ["migrate", "0002"],
            statements=["CREATE TABLE IF NOT EXISTS manage_migrations_unfinished (revision VARCHAR(255) PRIMARY KEY, "
                        "forward BOOLEAN NOT NULL)",
                        f"INSERT INTO manage_migrations_unfinished VALUES ('{REPO_MIGRATIONS[2]}', TRUE)"])
    same_answers(manage, monkeypatch, spied_reads, settings_of, twin_urls, expect_direct=False,
                 then=[["migrate"], ["fake", "0002"]])  # nothing of 0003 ran
    final = manage("migrate", settings=settings_of(twin_urls[0]))
    assert final.exit_code == 0, final.output


def test_at_a_revision_no_file_has(manage, monkeypatch, spied_reads, settings_of, twin_urls):
    """Planned from the direct read, the error is the same; fake forgets the revision."""
    prepare(manage, settings_of, twin_urls, ["migrate", "0002"],
            statements=["UPDATE alembic_version SET version_num = '0009_gone'"])
    same_answers(manage, monkeypatch, spied_reads, settings_of, twin_urls, expect_direct=True,
                 then=[["migrate"], ["fake", "0002"], ["migrate"]])
    assert database_state(twin_urls[0])["version"] == [("0004_make_email_unique",)]


def test_with_a_history_kept_before_checksums(manage, monkeypatch, spied_reads, settings_of, twin_urls):
    prepare(manage, settings_of, twin_urls, ["migrate", "0003"],
            statements=["ALTER TABLE manage_migrations DROP COLUMN checksum"])
    same_answers(manage, monkeypatch, spied_reads, settings_of, twin_urls, expect_direct=True)


def test_with_a_version_table_of_the_projects_own(manage, monkeypatch, spied_reads, settings_of, twin_urls,
                                                  project_copy, set_version_table):
    set_version_table(project_copy, "'Billing Versions'")  # quoted wherever it is named
    prepare(manage, settings_of, twin_urls, ["migrate", "0003"])
    same_answers(manage, monkeypatch, spied_reads, settings_of, twin_urls, expect_direct=True,
                 version_table="Billing Versions")
    assert database_state(twin_urls[0], "Billing Versions")["version"] == [("0004_make_email_unique",)]


def test_with_a_version_table_in_a_schema_on_postgresql(manage, monkeypatch, spied_reads, settings_of, postgres_url,
                                                        other_postgres_url, project_copy, set_version_table):
    urls = (postgres_url, other_postgres_url)
    set_version_table(project_copy, "'billing_versions', version_table_schema='billing'")
    for url in urls:
        run_sql(url, "CREATE SCHEMA billing")  # as with Alembic: the schema is the project's
    prepare(manage, settings_of, urls, ["migrate", "0002"])
    same_answers(manage, monkeypatch, spied_reads, settings_of, urls, expect_direct=True,
                 version_table="billing_versions", schema="billing")


def test_a_schema_on_sqlite_is_left_to_sqlalchemy(settings_of, sqlite_url, manage):
    assert manage("migrate", settings=settings_of(sqlite_url)).exit_code == 0
    settings = dataclasses.replace(settings_of(sqlite_url), version_table_schema="main")
    assert direct.read(settings) is None
    assert direct.read(settings_of(sqlite_url)).state == (REPO_MIGRATIONS[-1],)


def test_part_way_through_a_squashed_migration(manage, monkeypatch, spied_reads, settings_of, tmp_path):
    """A database at 0002 when 0001..0003 are squashed: planned in the history before the squash."""
    urls = (f"sqlite:///{tmp_path / 'one.sqlite3'}", f"sqlite:///{tmp_path / 'two.sqlite3'}")
    prepare(manage, settings_of, urls, ["migrate", "0002"])
    squashed = manage("squashmigrations", "0003", "--noinput", settings=settings_of(urls[0]))
    assert squashed.exit_code == 0, squashed.output
    same_answers(manage, monkeypatch, spied_reads, settings_of, urls, expect_direct=True,
                 then=[["migrate", "0002"], ["migrate"], ["migrate", "--prune"]])
    assert "(3 squashed migrations)" in manage("showmigrations", settings=settings_of(urls[0])).output


def test_history_dates_are_those_sqlalchemy_reads(settings_of, twin_urls, manage):
    """In UTC, to the microsecond SQLite and PostgreSQL keep (MariaDB's DATETIME keeps seconds),
    whatever the session's time zone."""
    from manage_migrations import recorder

    url = twin_urls[0] + ("?options=-c%20TimeZone%3DAsia%2FTokyo" if twin_urls[0].startswith("postgresql") else "")
    assert manage("migrate", settings=settings_of(url)).exit_code == 0
    settings = settings_of(url)

    record = direct.read(settings, with_history=True)

    assert record.history == database.run(database.database_url(settings),
                                          recorder.of(settings).history_rows)
    assert set(record.history) == set(REPO_MIGRATIONS)
    assert all(row.at.utcoffset().total_seconds() == 0 and row.checksum for row in record.history.values())
    assert direct.read(settings) == (record.state, {})


# End to end: the deploy's own command.


# A server that cannot be reached: the same words, after one connect timeout.

@pytest.fixture
def silent_server():
    """A port that accepts connections (the system does, before any accept) and never answers."""
    with socket.create_server(("127.0.0.1", 0), backlog=16) as server:
        yield server


def accepted(server) -> int:
    """How many connections were made to ``server``."""
    server.settimeout(0.5)
    count = 0
    try:
        while True:
            server.accept()[0].close()
            count += 1
    except OSError:  # none left waiting
        return count


@pytest.mark.parametrize("kind", ["postgresql", "mariadb"])
def test_a_server_that_does_not_answer_is_waited_for_once(project_copy, run_manage, silent_server, kind):
    port = silent_server.getsockname()[1]
    url = (f"postgresql+psycopg2://deploy:s3cret@127.0.0.1:{port}/hotels?connect_timeout=1" if kind == "postgresql"
           else f"mysql+pymysql://deploy:s3cret@127.0.0.1:{port}/hotels")

    result = run_manage(project_copy, "migrate", database_url=url)

    assert result.returncode == 1
    assert result.stderr.startswith(f"CommandError: Cannot connect to {url.split('://')[0]}://deploy:***@127.0.0.1:{port}")
    assert "s3cret" not in result.stderr + result.stdout
    assert accepted(silent_server) == 1


@pytest.mark.parametrize("command", [["migrate"], ["showmigrations"], ["migrate", "--check"]])
def test_a_refused_connection_says_what_sqlalchemys_path_says(manage, monkeypatch, settings_of, command):
    with socket.create_server(("127.0.0.1", 0)) as closed:
        port = closed.getsockname()[1]
    settings = settings_of(f"postgresql+psycopg2://deploy:s3cret@127.0.0.1:{port}/hotels")

    direct_way = manage(*command, settings=settings)
    with monkeypatch.context() as off:
        off.setattr(direct, "read", lambda *args, **kwargs: None)
        sqlalchemy_way = manage(*command, settings=settings)

    assert direct_way.exit_code == sqlalchemy_way.exit_code == 1
    assert direct_way.output == sqlalchemy_way.output
    assert "Cannot connect to" in direct_way.output and "s3cret" not in direct_way.output


def test_a_version_table_locked_by_another_session_is_left_to_sqlalchemys_wait(manage, settings_of, postgres_url):
    """The read here waits LOCK_GLANCE and leaves it to the SQLAlchemy path, which waits its five
    seconds and names who holds the lock; in all, one wait."""
    settings = settings_of(postgres_url)
    assert manage("migrate", settings=settings).exit_code == 0
    holder = sa.create_engine(postgres_url)
    try:
        with holder.connect() as connection:
            connection.exec_driver_sql("LOCK TABLE alembic_version IN ACCESS EXCLUSIVE MODE")
            assert direct.read(settings) is None
            result = manage("migrate", "--check", settings=settings)
            connection.rollback()
    finally:
        holder.dispose()
    assert result.exit_code == 1
    assert "alembic_version has been locked by another session for over 5 s" in result.output
