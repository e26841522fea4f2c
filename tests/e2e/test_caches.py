"""makemigrations remembers a clean comparison and keeps its scratch database; any change to
what the comparison read must still be seen. Through ``python manage.py``, on SQLite."""
import glob
import os


def cache_file(tmp_path, pattern):
    found = glob.glob(str(tmp_path / "cache" / "manage-migrations" / "*" / pattern))
    assert len(found) == 1, found
    return found[0]


def check(project, run_manage, url):
    result = run_manage(project, "makemigrations", "--check", database_url=url)
    return result.returncode, result.stdout.splitlines()


def test_a_change_to_a_module_the_models_import_is_seen_after_a_clean_run(project_copy, run_manage, sqlite_url, tmp_path):
    (project_copy / "project" / "sizes.py").write_text("NAME_LENGTH = 200\n")
    hotels = project_copy / "project" / "models" / "hotels.py"
    hotels.write_text(hotels.read_text().replace("from project.models.base import Base",
                                                 "from project.models.base import Base\nfrom project.sizes import NAME_LENGTH")
                      .replace("String(200)", "String(NAME_LENGTH)"))
    assert check(project_copy, run_manage, sqlite_url) == (0, ["No changes detected"])
    assert check(project_copy, run_manage, sqlite_url) == (0, ["No changes detected"])  # from the cache

    (project_copy / "project" / "sizes.py").write_text("NAME_LENGTH = 150\n")

    assert check(project_copy, run_manage, sqlite_url) == (1, [
        "Migrations for 'migrations':", "  migrations/versions/0005_alter_column_name_on_hotels.py",
        "    ~ Alter column name on hotels"])


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
    assert check(project_copy, run_manage, sqlite_url) == (0, ["No changes detected"])
    assert cache_file(tmp_path, "scratch-*.sqlite3") != scratch  # new migration set, new scratch database
