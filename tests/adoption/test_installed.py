"""The library as a team installs it: a wheel in a fresh virtual environment, used from folders
outside this repository, for a new project (startproject) and for existing Alembic projects
(init). Each existing project is built and migrated with the plain alembic command first, with
rows in its tables (existing_projects.py)."""
import zipfile

import sqlalchemy as sa
from existing_projects import ASYNC_APP_CONFIG, build_async_app, build_src_app

NOTES_MODEL = '''\
from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from mysite.models.base import Base


class Note(Base):
    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200), unique=True)
'''


def inspect(url: str, what):
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            return what(connection)
    finally:
        engine.dispose()


def tables(url: str) -> set[str]:
    return inspect(url, lambda connection: set(sa.inspect(connection).get_table_names()))


def count(url: str, table: str) -> int:
    return inspect(url, lambda connection: connection.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar())


def unique_names(url: str, table: str) -> set[str]:
    return inspect(url, lambda connection: {c["name"] for c in sa.inspect(connection).get_unique_constraints(table)})


def test_the_wheel_holds_the_library_and_nothing_else(wheel, ok, tmp_path):
    with zipfile.ZipFile(wheel) as archive:
        tops = {name.split("/")[0] for name in archive.namelist()}
    assert {top for top in tops if not top.endswith(".dist-info")} == {"manage_migrations"}
    # Installed, from a folder outside the repository: the library, and none of the sample project.
    found = ok(tmp_path, "python", "-c", "import importlib.util as u; print([m for m in ('manage_migrations', "
               "'project', 'migrations', 'tests', 'benchmarks', 'manage') if u.find_spec(m)])")
    assert found == ["['manage_migrations']"]
    assert ok(tmp_path, "manage-migrations", "--version")[0][0].isdigit()


def test_a_command_outside_any_project_says_how_to_name_one(in_venv, tmp_path):
    result = in_venv(tmp_path, "manage-migrations", "migrate")
    assert result.returncode == 1
    assert result.stderr.startswith("CommandError: No settings: run this through a project's manage.py")
    assert list(tmp_path.iterdir()) == []  # no db.sqlite3 made anywhere


def test_startproject_then_the_django_cycle_on_sqlite(ok, tmp_path):
    ok(tmp_path, "manage-migrations", "startproject", "mysite")
    site = tmp_path / "mysite"
    assert ok(site, "python", "manage.py", "migrate")[-1] == "  No migrations to apply."
    assert (site / "db.sqlite3").exists()  # SQLite beside manage.py, as Django's startproject

    (site / "mysite" / "models" / "notes.py").write_text(NOTES_MODEL)
    made = ok(site, "python", "manage.py", "makemigrations")
    assert made == ["Migrations for 'mysite':", "  migrations/versions/0001_initial.py", "    + Create table notes"]
    assert ok(site, "python", "manage.py", "showmigrations") == ["mysite", " [ ] 0001_initial"]
    assert ok(site, "python", "manage.py", "migrate")[-1] == "  Applying 0001_initial... OK"
    url = f"sqlite:///{site / 'db.sqlite3'}"
    assert "notes" in tables(url) and unique_names(url, "notes") == {"uq_notes_title"}
    assert ok(site, "python", "manage.py", "makemigrations", "--check") == ["No changes detected"]
    assert ok(site, "python", "manage.py", "migrate", "zero")[-1] == "  Unapplying 0001_initial... OK"
    assert "notes" not in tables(url)
    # The plain alembic command and the project's own tests (pytest-alembic's, and one on the test
    # database the migrations build) see the same project.
    assert "0001_initial" in ok(site, "alembic", "history")[-1]
    assert "5 passed" in ok(site, "python", "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests")[-1]


def test_startproject_refuses_a_name_python_has_and_a_folder_that_exists(in_venv, tmp_path):
    taken = in_venv(tmp_path, "manage-migrations", "startproject", "json")
    assert taken.returncode == 1 and taken.stderr.startswith("CommandError: 'json' conflicts with the name of an existing")
    (tmp_path / "mysite").mkdir()
    there = in_venv(tmp_path, "manage-migrations", "startproject", "mysite")
    assert there.returncode == 1 and "already exists" in there.stderr
    assert list((tmp_path / "mysite").iterdir()) == []


def test_adopting_a_src_app_with_pydantic_settings(ok, in_venv, tmp_path, postgres_url):
    """(a): alembic.ini at the root, script_location = src/migration, the URL from pydantic-settings
    (DB_HOST... in .env, unknown keys forbidden), four hex-id migrations, rows in the tables."""
    app = build_src_app(tmp_path / "app", postgres_url)
    folder, (first, second, third, fourth) = app["folder"], app["revisions"]

    adopted = ok(folder, "manage-migrations", "init")
    assert "  Models: src.models.base:Base" in adopted
    assert "  Database URL: src.config:settings.DB_URL" in adopted
    assert "+    connection = config.attributes.get(\"connection\", None)" in "\n".join(adopted)
    assert ".env" in {p.name for p in folder.iterdir()} and "DATABASE_URL" not in (folder / ".env").read_text()

    assert ok(folder, "python", "manage.py", "showmigrations") == ["app", *(f" [X] {r}" for r in app["revisions"])]
    assert ok(folder, "python", "manage.py", "migrate")[-1] == "  No migrations to apply."
    assert ok(folder, "python", "manage.py", "migrate", second[:3])[-2:] == [
        f"  Unapplying {fourth}... OK", f"  Unapplying {third}... OK"]
    assert ok(folder, "python", "manage.py", "migrate", "+2")[-1] == f"  Applying {fourth}... OK"
    assert ok(folder, "python", "manage.py", "migrate", "-1")[-1] == f"  Unapplying {fourth}... OK"
    assert ok(folder, "python", "manage.py", "migrate")[-1] == f"  Applying {fourth}... OK"
    # The constraint keeps the name the team's metadata gives it (none: PostgreSQL's), whoever ran it.
    assert unique_names(postgres_url, "users") == {"users_email_key"}

    user_py = folder / "src" / "models" / "user.py"
    user_py.write_text(user_py.read_text().replace(
        "    bio: Mapped[str | None] = mapped_column(Text)",
        "    bio: Mapped[str | None] = mapped_column(Text)\n    nickname: Mapped[str | None] = mapped_column(String(50))"))
    made = ok(folder, "python", "manage.py", "makemigrations")
    assert made == ["Migrations for 'app':", "  src/migration/versions/0005_users_nickname.py",
                    "    + Add column nickname to users"]
    new_file = (folder / "src/migration/versions/0005_users_nickname.py").read_text()
    assert "Revises: " + fourth in new_file  # the team's script.py.mako
    assert ok(folder, "python", "manage.py", "migrate")[-1] == "  Applying 0005_users_nickname... OK"
    assert ok(folder, "python", "manage.py", "fake", fourth)[-1] == "  Unapplying 0005_users_nickname... FAKED"
    assert ok(folder, "python", "manage.py", "fake", "0005")[-1] == "  Applying 0005_users_nickname... FAKED"
    assert (count(postgres_url, "users"), count(postgres_url, "posts")) == (3, 2)

    # The plain alembic command still works on the adopted project (its words are its own: only
    # its exit status, the revisions it names and the database are looked at).
    assert fourth in ok(folder, "alembic", "history")[0] and "0005_users_nickname" in ok(folder, "alembic", "current")[0]
    ok(folder, "alembic", "downgrade", "-1")
    assert "0005_users_nickname" not in "".join(ok(folder, "alembic", "current"))
    ok(folder, "alembic", "upgrade", "head")
    ok(folder, "alembic", "check")  # exit 0: nothing to generate, manage.py's own tables included
    assert ok(folder, "python", "manage.py", "showmigrations")[-1] == " [X] 0005_users_nickname"
    assert (count(postgres_url, "users"), count(postgres_url, "posts")) == (3, 2)


def test_adopting_an_async_app_whose_config_is_elsewhere(ok, in_venv, tmp_path, postgres_url):
    """(b): alembic --config the_remember/src/repo/migration/_alembic.ini init ... --template async,
    on asyncpg, two hex-id migrations, rows in the tables."""
    app = build_async_app(tmp_path / "remember", postgres_url)
    folder, (first, second) = app["folder"], app["revisions"]

    plain = in_venv(folder, "manage-migrations", "init")
    assert plain.returncode == 1 and "--config" in plain.stderr  # no alembic.ini at the root
    adopted = ok(folder, "manage-migrations", "init", "--config", ASYNC_APP_CONFIG)
    assert "  Models: the_remember.src.repo.models:Base" in adopted
    assert f"  Database URL: sqlalchemy.url of {ASYNC_APP_CONFIG} (DATABASE_URL in the environment or .env wins)" in adopted

    assert ok(folder, "python", "manage.py", "showmigrations") == ["remember", f" [X] {first}", f" [X] {second}"]
    assert ok(folder, "python", "manage.py", "migrate", second[:4])[-1] == "  No migrations to apply."
    models = folder / "the_remember" / "src" / "repo" / "models.py"
    text = models.read_text()
    assert "class Memory(Base):" in text
    models.write_text(text.replace("    content: Mapped[str] = mapped_column(Text)\n", "    content: Mapped[str] = mapped_column("
                                   "Text)\n    mood: Mapped[str | None] = mapped_column(String(20))\n", 1))
    made = ok(folder, "python", "manage.py", "makemigrations", "-n", "memory mood")
    assert made[1].endswith("/versions/0003_memory_mood.py") and made[2] == "    + Add column mood to memories"
    assert ok(folder, "python", "manage.py", "migrate")[-1] == "  Applying 0003_memory_mood... OK"
    assert ok(folder, "python", "manage.py", "migrate", "-1")[-1] == "  Unapplying 0003_memory_mood... OK"
    assert ok(folder, "python", "manage.py", "migrate", "0003")[-1] == "  Applying 0003_memory_mood... OK"
    assert ok(folder, "python", "manage.py", "fake", second)[-1] == "  Unapplying 0003_memory_mood... FAKED"
    assert ok(folder, "python", "manage.py", "migrate", "--fake")[-1] == "  Applying 0003_memory_mood... FAKED"
    assert (count(postgres_url, "memories"), count(postgres_url, "tags")) == (2, 3)

    alembic = ("alembic", "--config", ASYNC_APP_CONFIG)
    assert "0003_memory_mood" in ok(folder, *alembic, "history")[0]
    ok(folder, *alembic, "downgrade", "-1")
    assert "0003_memory_mood" not in "".join(ok(folder, *alembic, "current"))
    ok(folder, *alembic, "upgrade", "head")
    ok(folder, *alembic, "check")
    assert (count(postgres_url, "memories"), count(postgres_url, "tags")) == (2, 3)
