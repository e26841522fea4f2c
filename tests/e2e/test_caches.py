"""Whatever the models read (a settings constant, an environment variable, a data file) is seen
at once, also after a clean comparison makemigrations remembers (see test_clean_checks).
The SQLite scratch database at head is kept under a key of the migration files and library
versions; one that is broken is built again. Through ``python manage.py``, on SQLite."""
import glob
import os

CHANGED_NAME = ["Migrations for 'project':", "  migrations/versions/0005_alter_hotels_name.py",
                "    ~ Alter column name on hotels"]


def cache_file(tmp_path, pattern):
    found = glob.glob(str(tmp_path / "cache" / "manage-migrations" / "*" / pattern))
    assert len(found) == 1, found
    return found[0]


def check(project, run_manage, url, env=None, command="makemigrations"):
    args = ["makemigrations", "--check"] if command == "makemigrations" else ["check"]
    result = run_manage(project, *args, database_url=url, env=env)
    return result.returncode, result.stdout.splitlines()


def name_length_from(project, source: str) -> None:
    """hotels.name's length comes from ``source``, an expression the model evaluates."""
    hotels = project / "project" / "models" / "hotels.py"
    hotels.write_text(hotels.read_text().replace("String(200)", f"String({source})")
                      .replace("from sqlalchemy import String", "import json, os\nfrom pathlib import Path\n"
                               "from sqlalchemy import String\nfrom project import settings"))


def test_a_settings_constant_is_seen_after_a_clean_run(project_copy, run_manage, sqlite_url):
    """project/settings.py is imported before any comparison starts."""
    settings_file = project_copy / "project" / "settings.py"
    settings_file.write_text(settings_file.read_text() + "\nNAME_LENGTH = 200\n")
    name_length_from(project_copy, "settings.NAME_LENGTH")
    assert check(project_copy, run_manage, sqlite_url) == (0, ["No changes detected"])

    settings_file.write_text(settings_file.read_text().replace("NAME_LENGTH = 200", "NAME_LENGTH = 150"))

    assert check(project_copy, run_manage, sqlite_url) == (1, CHANGED_NAME)
    assert check(project_copy, run_manage, sqlite_url, command="check")[0] == 1


def test_an_environment_variable_is_seen_after_a_clean_run(project_copy, run_manage, sqlite_url):
    name_length_from(project_copy, "int(os.environ.get('NAME_LENGTH', 200))")
    assert check(project_copy, run_manage, sqlite_url) == (0, ["No changes detected"])

    assert check(project_copy, run_manage, sqlite_url, env={"NAME_LENGTH": "150"}) == (1, CHANGED_NAME)
    assert check(project_copy, run_manage, sqlite_url, env={"NAME_LENGTH": "150"}, command="check")[0] == 1


def test_a_data_file_read_by_a_model_is_seen_after_a_clean_run(project_copy, run_manage, sqlite_url):
    sizes = project_copy / "project" / "models" / "sizes.json"
    sizes.write_text('{"name": 200}')
    name_length_from(project_copy, "json.loads((Path(__file__).parent / 'sizes.json').read_text())['name']")
    assert check(project_copy, run_manage, sqlite_url) == (0, ["No changes detected"])

    sizes.write_text('{"name": 150}')

    assert check(project_copy, run_manage, sqlite_url) == (1, CHANGED_NAME)
    assert check(project_copy, run_manage, sqlite_url, command="check")[0] == 1


def test_a_new_model_file_is_seen_after_a_clean_run(project_copy, run_manage, sqlite_url):
    assert check(project_copy, run_manage, sqlite_url) == (0, ["No changes detected"])
    (project_copy / "project" / "models" / "reviews.py").write_text(
        "from sqlalchemy.orm import Mapped, mapped_column\nfrom project.models.base import Base\n\n\n"
        "class Review(Base):\n    __tablename__ = 'reviews'\n    id: Mapped[int] = mapped_column(primary_key=True)\n")

    assert check(project_copy, run_manage, sqlite_url)[0] == 1


def test_the_scratch_database_is_kept_and_rebuilt_only_when_the_migrations_change(project_copy, run_manage, sqlite_url, tmp_path):
    assert check(project_copy, run_manage, sqlite_url)[0] == 0
    scratch = cache_file(tmp_path, "scratch-*.sqlite3")
    built = os.stat(scratch).st_ino
    users = project_copy / "project" / "models" / "users.py"
    users.write_text(users.read_text() + "    phone: Mapped[str | None] = mapped_column(String(30))\n")

    assert check(project_copy, run_manage, sqlite_url)[1][-1] == "    + Add column phone to users"
    assert cache_file(tmp_path, "scratch-*.sqlite3") == scratch and os.stat(scratch).st_ino == built  # reused

    made = run_manage(project_copy, "makemigrations", "-n", "add_phone", database_url=sqlite_url)
    assert made.returncode == 0, made.stderr
    # Tried on the scratch database, which is now at the new head: kept under the new files' key.
    assert cache_file(tmp_path, "scratch-*.sqlite3") != scratch
    assert check(project_copy, run_manage, sqlite_url) == (0, ["No changes detected"])


def test_a_broken_scratch_database_or_index_is_rebuilt(project_copy, run_manage, sqlite_url, tmp_path):
    assert check(project_copy, run_manage, sqlite_url)[0] == 0
    with open(cache_file(tmp_path, "scratch-*.sqlite3"), "wb") as scratch:
        scratch.write(b"not a database")
    with open(cache_file(tmp_path, "index.json"), "w") as index:
        index.write("null")

    assert check(project_copy, run_manage, sqlite_url) == (0, ["No changes detected"])
    with open(cache_file(tmp_path, "index.json"), "w") as index:
        index.write('{"0001_create_table_hotels.py": {"stamp": 1}}')
    assert check(project_copy, run_manage, sqlite_url) == (0, ["No changes detected"])


def test_an_unwritable_cache_folder_is_skipped(project_copy, run_manage, sqlite_url, tmp_path):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder would be")
    result = run_manage(project_copy, "makemigrations", "--check", database_url=sqlite_url,
                        env={"XDG_CACHE_HOME": str(blocked)})
    assert (result.returncode, result.stdout.splitlines(), result.stderr) == (0, ["No changes detected"], "")

