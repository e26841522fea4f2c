"""A team's machine: a fresh virtual environment with the library installed from a wheel built
from this repository (not editable), commands run from folders outside the repository.

The virtual environment is made once per test run (pip installs the wheel and its dependencies
as a new machine gets them); each test then works in folders and databases of its own.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def wheel(tmp_path_factory) -> Path:
    """The wheel ``pip wheel .`` builds from this repository."""
    folder = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                    str(folder), str(REPO)], check=True, capture_output=True, text=True, timeout=600)
    return next(folder.glob("manage_migrations-*.whl"))


@pytest.fixture(scope="session")
def venv(tmp_path_factory, wheel) -> Path:
    """A new virtual environment with the wheel installed with the async drivers and what a
    project's migration tests need ([async,pytest]), and the settings library of the src app."""
    folder = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True, timeout=300)
    python = folder / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", f"{wheel}[async,pytest]", "pydantic-settings"],
                   check=True, capture_output=True, text=True, timeout=900)
    return folder


@pytest.fixture
def in_venv(venv, tmp_path):
    """``in_venv(folder, "python", "manage.py", "migrate")``: a command of the virtual
    environment run in ``folder``, as a person types it there with it activated. The child's
    environment is this one's without DATABASE_URL and PYTHONPATH (``env`` adds to it), with
    caches in the test's own folder."""

    def run(folder: Path, program: str, *args: str, env: dict | None = None, input: str = ""):
        child = {key: value for key, value in os.environ.items()
                 if key not in ("DATABASE_URL", "PYTHONPATH", "VIRTUAL_ENV", "DB_HOST", "DB_PORT", "DB_USER",
                                "DB_PASS", "DB_NAME")}
        child.update(PATH=f"{venv / 'bin'}{os.pathsep}{child.get('PATH', '')}", XDG_CACHE_HOME=str(tmp_path / "cache"),
                     **(env or {}))
        return subprocess.run([str(venv / "bin" / program), *args], cwd=folder, env=child, capture_output=True,
                              text=True, timeout=600, input=input)

    return run


@pytest.fixture
def ok(in_venv):
    """``ok(folder, program, *args)``: ``in_venv`` that must exit 0; returns stdout's lines."""

    def run(folder: Path, program: str, *args: str, **options) -> list[str]:
        result = in_venv(folder, program, *args, **options)
        assert result.returncode == 0, f"{program} {' '.join(args)}: exit {result.returncode}\n{result.stdout}\n{result.stderr}"
        return result.stdout.splitlines()

    return run
