"""The benchmark compares like with like: the project it generates has models that match its
migrations (so ``makemigrations --check`` times the no-change path), and bare Alembic runs the
very same migration files, in one transaction or one each, to the same tables."""
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def benchmark_script():
    spec = importlib.util.spec_from_file_location("benchmark_run", REPO / "benchmarks" / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def generated(benchmark_script, tmp_path):
    return benchmark_script.generate_project(tmp_path / "p3", 3)


def bare_alembic(project: Path, url: str, *args: str, per_migration: bool = False):
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(DATABASE_URL=url, BENCH_PER_MIGRATION="1" if per_migration else "0")
    return subprocess.run([sys.executable, "-m", "alembic", *args], cwd=project, env=env,
                          capture_output=True, text=True, timeout=120)


def test_the_generated_models_match_the_generated_migrations(generated, run_manage, sqlite_url, tables):
    migrated = run_manage(generated, "migrate", database_url=sqlite_url)
    check = run_manage(generated, "makemigrations", "--check", database_url=sqlite_url)

    assert migrated.returncode == 0, migrated.stderr
    assert "  Applying 0003_create_table_t0003... OK" in migrated.stdout
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout == "No changes detected\n"
    assert {"t0001", "t0002", "t0003"} <= tables(sqlite_url)


@pytest.mark.parametrize("per_migration", [False, True], ids=["one transaction", "a transaction each"])
def test_bare_alembic_runs_the_same_files(generated, tmp_path, tables, revision, per_migration):
    url = f"sqlite:///{tmp_path / 'bare.sqlite3'}"

    result = bare_alembic(generated, url, "upgrade", "head", per_migration=per_migration)

    assert result.returncode == 0, result.stderr
    assert tables(url) == {"alembic_version", "t0001", "t0002", "t0003"}
    assert revision(url) == "0003_create_table_t0003"
