"""``test``: the project's tests, as Django's test command, run by pytest with the test database
of ``manage_migrations.pytest_plugin`` (built by the migrations, rolled back after each test)."""
from manage_migrations.conf import Settings
from manage_migrations.output import CommandError

# Django's -v (0 to 3) as pytest's verbosity flags.
VERBOSITY_FLAGS = {0: ["-q"], 1: [], 2: ["-v"], 3: ["-vv"]}


def run_tests(settings: Settings, pytest_args: list[str], keepdb: bool = False, verbosity: int | None = None,
              color: bool | None = None) -> int:
    """Run pytest in this process on ``pytest_args`` with the project's settings handed to the
    plugin; ``keepdb`` is Django's name for ``--reuse-db``. Returns pytest's exit code."""
    try:
        import pytest
    except ImportError:
        raise CommandError("pytest is not installed: pip install 'manage-migrations[pytest]'.") from None
    from manage_migrations.pytest_plugin import HandedSettings

    args = [*VERBOSITY_FLAGS.get(verbosity, []), *([] if color is None else [f"--color={'yes' if color else 'no'}"]),
            *(["--reuse-db"] if keepdb else []), *pytest_args]
    return int(pytest.main(args, plugins=[HandedSettings(settings)]))
