"""URL schemes, drivers, timeouts and password masking, against the real servers."""
import importlib.util
import socket
import time

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from manage_migrations import database
from manage_migrations.conf import Settings

PASSWORD = "s3cr%et"  # a % too: the URL must never pass through ConfigParser


def with_password(url: str, scheme: str | None = None) -> str:
    """The URL with a password (trust auth ignores it) and, if given, another scheme."""
    parsed = make_url(url).set(password=PASSWORD)
    if scheme:
        parsed = parsed.set(drivername=scheme)
    return parsed.render_as_string(hide_password=False)


@pytest.mark.parametrize("given, psycopg_installed, expected", [
    ("postgres://u:p@h/db", False, "postgresql+psycopg2"),
    ("postgresql://u:p@h/db", False, "postgresql+psycopg2"),
    ("postgres://u:p@h/db", True, "postgresql+psycopg"),
    ("postgresql://u:p@h/db", True, "postgresql+psycopg"),
    ("postgres+asyncpg://u:p@h/db", True, "postgresql+asyncpg"),
    ("postgresql+psycopg2://u:p@h/db", True, "postgresql+psycopg2"),
    ("sqlite+aiosqlite:////tmp/x.db", True, "sqlite+aiosqlite"),
])
def test_driver_choice(monkeypatch, given, psycopg_installed, expected):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name: (object() if psycopg_installed else None) if name == "psycopg" else real(name))
    url = database.database_url(Settings(base_dir=database.Path("/srv/site"), database_url=given, migrations_dir=database.Path("/srv/site")))
    assert url.drivername == expected
    assert url.password in (None, "p")


@pytest.mark.parametrize("scheme", ["postgres", "postgresql"])
def test_heroku_style_urls_work_with_psycopg2(project_copy, run_manage, postgres_url, scheme):
    if importlib.util.find_spec("psycopg"):
        pytest.skip("psycopg 3 is installed: the bare scheme would use it")
    url = with_password(postgres_url, scheme)

    result = run_manage(project_copy, "migrate", "-v", "3", database_url=url)

    assert result.returncode == 0, result.stderr
    assert "  Applying 0004_make_email_unique...\n" in result.stdout  # -v 3: its SQL follows
    assert PASSWORD not in result.stdout + result.stderr


@pytest.mark.parametrize("command", [["migrate"], ["showmigrations"], ["makemigrations", "--check"], ["fake", "head"]])
def test_unreachable_server_names_host_port_and_database_never_the_password(project_copy, run_manage, command):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"postgresql+psycopg2://deploy:{PASSWORD}@127.0.0.1:{port}/hotels"

    result = run_manage(project_copy, *command, "-v", "3", database_url=url)

    assert result.returncode == 1
    assert result.stderr.startswith(f"CommandError: Cannot connect to postgresql+psycopg2://deploy:***@127.0.0.1:{port}/hotels: ")
    assert result.stderr.count("\n") == 1
    assert PASSWORD not in result.stdout + result.stderr


@pytest.mark.parametrize("driver", ["postgresql+psycopg2", "postgresql+psycopg", "postgresql+asyncpg", "mysql+pymysql"])
def test_a_silent_server_times_out_within_about_ten_seconds(project_copy, run_manage, driver):
    """A listener that accepts TCP and never sends its greeting, for every driver installed."""
    pytest.importorskip(driver.split("+")[1])
    with socket.socket() as silent:  # accepts connections (the kernel does) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        started = time.monotonic()
        result = run_manage(project_copy, "migrate", database_url=f"{driver}://u:{PASSWORD}@127.0.0.1:{port}/hotels")
        elapsed = time.monotonic() - started

    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert f"127.0.0.1:{port}/hotels" in result.stderr and PASSWORD not in result.stderr
    assert not result.stderr.rstrip().endswith(":"), result.stderr  # says what happened, not just a type
    assert elapsed < 30  # generous on a busy machine; without the timeout it would hang


@pytest.mark.parametrize("driver, fixture", [("postgresql+asyncpg", "postgres_url"), ("sqlite+aiosqlite", "sqlite_url")])
def test_async_drivers_use_the_same_env(project_copy, run_manage, request, driver, fixture):
    pytest.importorskip(driver.split("+")[1])
    url = make_url(request.getfixturevalue(fixture)).set(drivername=driver).render_as_string(hide_password=False)

    migrated = run_manage(project_copy, "migrate", database_url=url)
    shown = run_manage(project_copy, "showmigrations", database_url=url)
    checked = run_manage(project_copy, "makemigrations", "--check", database_url=url)
    back = run_manage(project_copy, "migrate", "0002", database_url=url)

    assert migrated.returncode == 0, migrated.stderr
    assert " [X] 0004_make_email_unique" in shown.stdout
    assert (checked.returncode, checked.stdout) == (0, "No changes detected\n")
    assert "  Unapplying 0003_add_users... OK" in back.stdout


def scratch_databases(postgres_url):
    engine = sa.create_engine(postgres_url)
    try:
        with engine.connect() as connection:
            return connection.execute(sa.text("SELECT datname FROM pg_database WHERE datname LIKE 'manage\\_scratch\\_%'")).scalars().all()
    finally:
        engine.dispose()


def test_makemigrations_on_postgres_uses_a_scratch_database_and_drops_it(project_copy, run_manage, postgres_url):
    before = scratch_databases(postgres_url)
    (project_copy / "project" / "models" / "reviews.py").write_text(
        "from sqlalchemy.orm import Mapped, mapped_column\n"
        "from project.models.base import Base\n\n\n"
        "class Review(Base):\n"
        "    __tablename__ = 'reviews'\n"
        "    id: Mapped[int] = mapped_column(primary_key=True)\n"
        "    stars: Mapped[int]\n"
    )

    made = run_manage(project_copy, "makemigrations", database_url=postgres_url)

    assert made.returncode == 0, made.stderr
    assert made.stdout.splitlines() == [
        "Migrations for 'project':", "  migrations/versions/0005_reviews.py", "    + Create table reviews",
    ]
    assert set(scratch_databases(postgres_url)) <= set(before)  # none of its own left; leftovers may go
    engine = sa.create_engine(postgres_url)
    assert sa.inspect(engine).get_table_names() == []  # the user's database was left alone
    engine.dispose()


@pytest.fixture
def limited_user_url(postgres_url):
    """The test database, reached as a role that may not create databases."""
    role = f"limited_{make_url(postgres_url).database}"
    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f"CREATE ROLE {role} LOGIN NOCREATEDB")
        connection.exec_driver_sql(f"GRANT ALL ON SCHEMA public TO {role}")
    yield make_url(postgres_url).set(username=role).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.exec_driver_sql(f"DROP OWNED BY {role}")
        connection.exec_driver_sql(f"DROP ROLE {role}")
    admin.dispose()


def test_makemigrations_without_createdb_compares_with_the_database_only_at_head(project_copy, run_manage, limited_user_url):
    behind = run_manage(project_copy, "makemigrations", database_url=limited_user_url)

    assert behind.returncode == 1
    assert behind.stdout.startswith("Cannot create a scratch database (permission denied to create database)")
    assert behind.stderr.startswith("CommandError: The database is not at the latest migration")

    assert run_manage(project_copy, "migrate", database_url=limited_user_url).returncode == 0
    at_head = run_manage(project_copy, "makemigrations", database_url=limited_user_url)

    assert at_head.returncode == 0, at_head.stderr
    assert at_head.stdout.splitlines()[-1] == "No changes detected"


def test_on_pymysql_a_statement_may_run_longer_than_the_connect_timeout(mariadb_url):
    """The greeting's read timeout must not cut a long migration short."""
    from manage_migrations import database

    engine = database.create_engine(make_url(mariadb_url))
    try:
        with engine.connect() as connection:
            slept = connection.exec_driver_sql(f"SELECT SLEEP({database.CONNECT_TIMEOUT + 1})").scalar()
    finally:
        engine.dispose()
    assert slept == 0  # 1 would mean it was interrupted


def test_postgresql_connections_have_tcp_keepalives_unless_the_url_says_otherwise(postgres_url):
    """A server or a route that goes dark mid-run is noticed in about a minute, not in hours."""
    from manage_migrations import database

    for url, idle in ((make_url(postgres_url), "30"), (make_url(postgres_url).update_query_dict({"keepalives_idle": "5"}), "5")):
        engine = database.create_engine(url)
        try:
            with engine.connect() as connection:
                parameters = connection.connection.dbapi_connection.get_dsn_parameters()
        finally:
            engine.dispose()
        assert (parameters["keepalives"], parameters["keepalives_idle"], parameters["keepalives_count"]) == ("1", idle, "3")


def test_pymysql_connections_have_the_same_tcp_keepalives(mariadb_url):
    import socket

    from manage_migrations import database

    engine = database.create_engine(make_url(mariadb_url))
    try:
        with engine.connect() as connection:
            sock = connection.connection.dbapi_connection._sock
            options = (sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
                       sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
                       sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT))
    finally:
        engine.dispose()
    assert options == (1, 30, 3)
