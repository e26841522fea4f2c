"""pytest plugin (registered by the distribution, entry point ``pytest11``): a test database
built by the project's migrations, and fixtures on it, as pytest-django's.

``db_url``, ``db_engine`` (session-wide), ``db_connection`` and ``db_session`` (one test each,
whose work is rolled back at its end, commits included). The test database is made once per
test session (per pytest-xdist worker) by ``manage_migrations.creation``, and dropped at the
end unless ``--reuse-db``. The project is the settings module ``manage.py test`` hands in, else
``--manage-settings``, else the ini option ``manage_migrations_settings``, else
MANAGE_MIGRATIONS_SETTINGS.

Every pytest run of a Python with manage-migrations installed loads this module: it imports
nothing but pytest and the standard library, and does nothing until a test asks for one of its
fixtures (or ``--create-db`` is given).
"""
import importlib.util
import os
import pickle

import pytest

SETTINGS = pytest.StashKey()  # the project's Settings, once read (or as manage.py test hands them)
INI_OPTION = "manage_migrations_settings"
WORKER_INPUT = "manage_migrations_settings"  # manage.py test's settings, for pytest-xdist's workers


def pytest_addoption(parser):
    """``--reuse-db`` and ``--create-db`` are pytest-django's: where it is installed too (a team
    moving from Django has both), its options are the ones read, which mean the same; adding
    them twice would stop every pytest run."""
    group = parser.getgroup("manage_migrations", "test databases of manage-migrations")
    if importlib.util.find_spec("pytest_django") is None:
        group.addoption("--reuse-db", action="store_true",
                        help="Keep the test database at the end and use it again next run, unless its migrations "
                             "changed (Django's --keepdb).")
        group.addoption("--create-db", action="store_true",
                        help="Build the test database from the migrations again, its template included, even with "
                             "--reuse-db.")
    group.addoption("--manage-settings", metavar="MODULE",
                    help=f"The project's settings module, as 'mysite.settings' [default: the ini option "
                         f"{INI_OPTION}, else MANAGE_MIGRATIONS_SETTINGS].")
    parser.addini(INI_OPTION, "The project's settings module, for the test database of manage-migrations.")


class HandedSettings:
    """What ``manage.py test`` registers: the settings it read (with its --env-file, -c and -x),
    for this process and for each worker pytest-xdist starts."""

    def __init__(self, settings):
        self.settings = settings

    def pytest_configure(self, config):
        config.stash[SETTINGS] = self.settings

    @pytest.hookimpl(optionalhook=True)  # pytest-xdist's hook: absent without it
    def pytest_configure_node(self, node):
        node.workerinput[WORKER_INPUT] = pickle.dumps(self.settings)


def project_settings(config):
    """The project's settings, read the first time they are needed."""
    if SETTINGS not in config.stash:
        from manage_migrations import conf
        from manage_migrations.output import CommandError

        handed = getattr(config, "workerinput", {}).get(WORKER_INPUT)  # a worker of manage.py test -n
        if handed is not None:
            settings = pickle.loads(handed)
            conf.on_sys_path(settings.prepend_sys_path)  # as load_settings does
        else:
            module = (config.getoption("manage_settings") or config.getini(INI_OPTION)
                      or os.environ.get(conf.SETTINGS_VARIABLE))
            if not module:
                raise CommandError(f"No settings for the test database: set {INI_OPTION} in the pytest config, "
                                   "pass --manage-settings MODULE, or run python manage.py test.")
            settings = conf.load_settings(module)
        config.stash[SETTINGS] = settings
    return config.stash[SETTINGS]


def pytest_sessionstart(session):
    """``--create-db`` drops the templates before pytest-xdist starts its workers, so that they
    are built again, once (the workers, which get the option too, leave them)."""
    config = session.config
    if config.getoption("create_db") and not os.environ.get("PYTEST_XDIST_WORKER"):
        from manage_migrations import creation
        from manage_migrations.output import CommandError

        try:
            creation.drop_templates(project_settings(config))
        except CommandError as exc:
            raise pytest.UsageError(str(exc)) from None


@pytest.fixture(scope="session")
def db_url(request):
    """The test database's URL (SQLAlchemy's; its str() hides the password), at the migrations'
    head: ``test_<name>``, and ``test_<name>_gw0`` for pytest-xdist's first worker."""
    from manage_migrations import creation
    from manage_migrations.output import CommandError

    config, worker = request.config, os.environ.get("PYTEST_XDIST_WORKER")
    reuse = config.getoption("reuse_db")
    try:
        settings = project_settings(config)
        url = creation.create_test_db(settings, f"_{worker}" if worker else "", reuse and not config.getoption("create_db"))
    except CommandError as exc:  # in our words alone: no traceback, no chain of exceptions
        raise pytest.fail.Exception(str(exc), pytrace=False) from None
    yield url
    if not reuse:
        creation.destroy_test_db(settings, url)


@pytest.fixture(scope="session")
def db_engine(request, db_url):
    """An Engine on the test database, as manage.py makes them (an asyncio URL's through its
    blocking driver)."""
    import dataclasses

    from manage_migrations import management

    settings = project_settings(request.config)
    engine = management.engine(dataclasses.replace(settings, database_url=db_url.render_as_string(hide_password=False)))
    yield engine
    engine.dispose()


@pytest.fixture
def db_connection(db_engine):
    """A connection in a transaction rolled back at the end of the test."""
    with db_engine.connect() as connection:
        transaction = connection.begin()
        yield connection
        if transaction.is_active:
            transaction.rollback()


@pytest.fixture
def db_session(db_connection):
    """A Session whose work is rolled back at the end of the test, ``commit()`` included:
    SQLAlchemy's recipe for joining a Session into an external transaction, where each commit
    of the session releases a savepoint of the test's transaction."""
    from sqlalchemy.orm import Session

    with Session(bind=db_connection, join_transaction_mode="create_savepoint") as session:
        yield session
