"""The record of what ran, as Django's ``MigrationRecorder``: Alembic's version table (the heads
applied), the history of when each migration ran, the migrations started and not finished where
DDL cannot be rolled back, and squashed migrations recorded in place of what they replace.

A project's ``Recorder`` (``of(settings)``) keeps them where its env.py keeps Alembic's version
table; each of its methods takes one Connection. Nothing here loads Alembic. (``migrate`` with
nothing to do reads the same tables through the driver alone where it can: ``direct``; their
names are in ``tables``.)
"""
from datetime import datetime, timezone
from functools import cached_property, lru_cache

import sqlalchemy as sa

from manage_migrations import graph
from manage_migrations.database import is_lock_wait, lock_holders
from manage_migrations.tables import CHECKSUM, READ_LOCK_TIMEOUT, VERSION_TABLE, Applied, in_utc, record_tables
from manage_migrations.loader import checksum
from manage_migrations.output import CommandError, Console

# Django's migration names can be longer than the 32 characters Alembic gives its version column.
VERSION_LENGTH = 255


DEFAULT_TABLES = frozenset({VERSION_TABLE, *record_tables()})


def include_name(name, type_, parent_names) -> bool:
    """Alembic's ``include_name`` hook that leaves manage.py's own tables out of autogenerate."""
    return not (type_ == "table" and name in DEFAULT_TABLES)


def of(settings) -> "Recorder":
    """The project's Recorder, on the version table its settings (or its env.py) name."""
    return _recorder(settings.version_table, settings.version_table_schema)


@lru_cache
def _recorder(version_table: str, schema: str | None) -> "Recorder":
    """One per version table, so that SQLAlchemy compiles each statement once per run."""
    return Recorder(version_table, schema)


class Recorder:
    """Django's ``MigrationRecorder``, on the version table where the project keeps it (Alembic's
    ``version_table`` and ``version_table_schema``), with our two tables beside it."""

    def __init__(self, version_table: str = VERSION_TABLE, schema: str | None = None):
        history, unfinished = record_tables(version_table)
        metadata = sa.MetaData(schema=schema)
        self.version = sa.Table(
            version_table, metadata, sa.Column("version_num", sa.String(VERSION_LENGTH), nullable=False),
            sa.PrimaryKeyConstraint("version_num", name=f"{version_table}_pkc"))
        self.history = sa.Table(
            history, metadata, sa.Column("revision", sa.String(VERSION_LENGTH), primary_key=True),
            sa.Column("applied", sa.DateTime(timezone=True), nullable=False),
            sa.Column(CHECKSUM, sa.String(64), nullable=True))  # None: applied before checksums were kept
        # Each row is written and committed before its migration runs, and deleted once it has committed.
        self.unfinished_table = sa.Table(
            unfinished, metadata, sa.Column("revision", sa.String(VERSION_LENGTH), primary_key=True),
            sa.Column("forward", sa.Boolean, nullable=False))
        self.schema = schema
        self.version_name = f"{schema}.{version_table}" if schema else version_table
        self.own_tables = frozenset({version_table, history, unfinished})
        # Built once: SQLAlchemy then compiles each once per run, not once per migration.
        self.heads_query = sa.select(self.version.c.version_num)
        self.record_applied = self.history.insert()
        self.record_unapplied = self.history.delete().where(self.history.c.revision == sa.bindparam("gone"))

    def has(self, connection: sa.Connection, table: sa.Table) -> bool:
        return sa.inspect(connection).has_table(table.name, schema=self.schema)

    def include_name(self, name, type_, parent_names) -> bool:
        """Alembic's ``include_name`` hook that leaves these tables out of autogenerate."""
        return not (type_ == "table" and name in self.own_tables)

    def current_state(self, connection: sa.Connection) -> tuple[str, ...]:
        """The heads recorded in the version table, read without loading Alembic; the read
        transaction is closed so that each migration can run in a transaction of its own.

        The read waits at most READ_LOCK_TIMEOUT seconds behind another session's lock on the
        table (a readiness probe must answer, not hang), then stops in one line naming who holds it."""
        state, backend = (), connection.dialect.name
        try:
            if backend == "postgresql":
                connection.exec_driver_sql(f"SET LOCAL lock_timeout = '{READ_LOCK_TIMEOUT}s'")
            elif backend in ("mysql", "mariadb"):
                connection.exec_driver_sql(f"SET SESSION lock_wait_timeout = {READ_LOCK_TIMEOUT}")
            if self.has(connection, self.version):  # SQLite's busy wait (5 s) may end here
                state = tuple(connection.execute(self.heads_query).scalars())
        except sa.exc.OperationalError as exc:
            if not is_lock_wait(exc):
                raise
            connection.rollback()
            raise CommandError(f"{self.version_name} has been locked by another session for over {READ_LOCK_TIMEOUT} s"
                               f"{lock_holders(connection, self.version_name)}; nothing was done.") from None
        finally:
            if backend in ("mysql", "mariadb"):
                connection.exec_driver_sql("SET SESSION lock_wait_timeout = DEFAULT")
        connection.rollback()
        return state

    def read_heads(self, connection: sa.Connection) -> tuple[str, ...]:
        """The heads in the version table, read inside the caller's transaction (a migration's own)."""
        return tuple(connection.execute(self.heads_query).scalars())

    def forget_versions(self, connection: sa.Connection) -> None:
        """Empty the version table, as Alembic's ``stamp --purge`` does, in a transaction of its own."""
        connection.execute(self.version.delete())
        connection.commit()

    def replace_version(self, connection: sa.Connection, old: str, new: str) -> None:
        """Record ``new`` in ``old``'s place, with today's date in the history, in one transaction."""
        connection.execute(self.version.update().where(self.version.c.version_num == old).values(version_num=new))
        self.history.create(connection, checkfirst=True)
        connection.execute(self.history.delete().where(self.history.c.revision == new))
        connection.execute(self.history.insert(), {"revision": new, "applied": datetime.now(timezone.utc)})
        connection.commit()

    def prepare(self, connection: sa.Connection, applying: list[str], marking: bool = False) -> None:
        """Before steps run: the version table wide enough, the history table there (and the
        unfinished table, when a step will be ``marking`` itself started: made once, not asked
        for before each migration), and the rows the plain alembic command left behind for what
        it unapplied (and is now applied) gone."""
        self.ensure_version_table(connection)
        self.history.create(connection, checkfirst=True)
        if marking:
            self.unfinished_table.create(connection, checkfirst=True)
        connection.execute(self.history.delete().where(self.history.c.revision.in_(applying)))
        connection.commit()

    def forget_history(self, connection: sa.Connection, revision: str) -> None:
        connection.execute(self.history.delete().where(self.history.c.revision == revision))
        connection.commit()

    def ensure_version_table(self, connection: sa.Connection) -> None:
        """Bring tables an older run made to today's layout. The version table (and our history
        table) hold names of up to 255 characters: created so before Alembic would create it
        with 32, or widened where an older run made it (SQLite does not enforce a VARCHAR's
        length, so only PostgreSQL and MariaDB are altered). A history table made before
        checksums were kept gets their column, empty: those rows are never flagged."""
        self.version.create(connection, checkfirst=True)
        inspector = sa.inspect(connection)
        for table, column in ((self.version, "version_num"), (self.history, "revision")):
            if not inspector.has_table(table.name, schema=self.schema):
                continue
            columns = {c["name"]: c for c in inspector.get_columns(table.name, schema=self.schema)}
            length = columns[column]["type"].length
            if connection.dialect.name != "sqlite" and length is not None and length < VERSION_LENGTH:
                alembic_operations(connection).alter_column(
                    table.name, column, type_=sa.String(VERSION_LENGTH), existing_type=sa.String(length),
                    existing_nullable=False, schema=self.schema)
            if table is self.history and CHECKSUM not in columns:
                alembic_operations(connection).add_column(table.name, sa.Column(CHECKSUM, sa.String(64)),
                                                          schema=self.schema)

    def history_rows(self, connection: sa.Connection) -> dict[str, Applied]:
        """When each applied migration ran and its file's checksum then, as far as manage.py
        recorded them (a history table made before checksums were kept has no checksums)."""
        rows, table = {}, self.history
        if self.has(connection, table):
            # A query that returns no row names the columns: cheaper than reflection (several queries on PostgreSQL).
            nothing = sa.select(sa.text("*")).select_from(table).where(sa.false())
            with_checksum = CHECKSUM in connection.execute(nothing).keys()
            columns = [table.c.revision, table.c.applied] + ([table.c[CHECKSUM]] if with_checksum else [])
            for revision, applied, *digest in connection.execute(sa.select(*columns)):
                rows[revision] = Applied(in_utc(applied), digest[0] if digest else None)
        connection.rollback()
        return rows

    def record_checksums(self, connection: sa.Connection, checksums: dict[str, str]) -> None:
        """Record each migration's file as it is now (``repair``), in one transaction; the
        column is added first where an older run made the table."""
        self.ensure_version_table(connection)
        table = self.history
        for revision, digest in checksums.items():
            connection.execute(table.update().where(table.c.revision == revision).values({CHECKSUM: digest}))
        connection.commit()

    def applied_dates(self, connection: sa.Connection) -> dict:
        """When each applied migration ran, as far as manage.py recorded it."""
        return {revision: row.at for revision, row in self.history_rows(connection).items()}

    def unfinished(self, connection: sa.Connection) -> list[tuple[str, bool]]:
        """The migrations started and not finished, as ``(revision, forward)``: where DDL is not
        rolled back (MariaDB), and, on every backend, migrations that are not atomic."""
        rows, table = [], self.unfinished_table
        if self.has(connection, table):
            rows = [tuple(row) for row in connection.execute(sa.select(table.c.revision, table.c.forward))]
        connection.rollback()  # no read transaction left open: SQLite's would refuse the migration's writes
        return rows

    def mark_unfinished(self, connection: sa.Connection, revision: str, forward: bool | None) -> bool:
        """Record (``forward`` True or False) or clear (None) a migration as started, and commit
        (``prepare`` made the table). A record left by a try that waited too long for a lock is
        replaced by the next try's; returns whether there was one, as the next try cannot tell
        what the earlier one left. The insert comes first, alone: there is seldom one."""
        table = self.unfinished_table
        if forward is not None:
            try:
                connection.execute(table.insert(), {"revision": revision, "forward": forward})
                connection.commit()
                return False
            except sa.exc.IntegrityError:
                connection.rollback()
        replaced = connection.execute(table.delete().where(table.c.revision == revision)).rowcount > 0
        if forward is not None:
            connection.execute(table.insert(), {"revision": revision, "forward": forward})
        connection.commit()
        return replaced

    def forget_unfinished(self, connection: sa.Connection) -> None:
        connection.execute(self.unfinished_table.delete())
        connection.commit()

    def record_squashed(self, connection, recorded: dict[str, str], console: Console) -> None:
        """Django's ``check_replacements``: a squashed migration recorded in place of the last it replaces."""
        for last, squashed in recorded.items():
            console.line(f"  Recording {squashed} in place of {last}, which it replaces.")
            self.replace_version(connection, last, squashed)

    def record_step(self, connection, revision: str, forward: bool, path: str | None = None, marked: bool = False,
                    read_heads: bool = False) -> tuple[str, ...] | None:
        """A step's row in the history, written in the step's own transaction, with the checksum
        of the file that ran (``path``), which showmigrations and check compare with it later;
        a step ``marked`` unfinished is cleared in that transaction too, so that the version,
        the history and the record of what is unfinished never disagree.

        With ``read_heads`` (PostgreSQL alone: a data-modifying CTE), the same statement reads
        and returns the heads in the version table, for the guard's check: one round trip less
        per migration. The row is then written as the step begins (dated so); a row already
        there is overwritten, as the one that stays is the one that commits with the version."""
        values = {"revision": revision, "applied": datetime.now(timezone.utc),
                  CHECKSUM: checksum(path) if path else None} if forward else {"gone": revision}
        if read_heads:
            return tuple(connection.execute(self.recording_with_heads[forward], values).scalars())
        connection.execute(self.record_applied if forward else self.record_unapplied, values)
        if marked:
            table = self.unfinished_table
            connection.execute(table.delete().where(table.c.revision == revision))
        return None

    @cached_property
    def recording_with_heads(self) -> dict[bool, sa.Select]:
        """``record_step``'s statements that read the heads too, by ``forward``; built once."""
        from sqlalchemy.dialects.postgresql import insert

        applied = insert(self.history).values(revision=sa.bindparam("revision"), applied=sa.bindparam("applied"),
                                              **{CHECKSUM: sa.bindparam(CHECKSUM)})
        applied = applied.on_conflict_do_update(index_elements=[self.history.c.revision], set_={
            "applied": applied.excluded.applied, CHECKSUM: applied.excluded[CHECKSUM]})
        return {True: self.heads_query.add_cte(applied.cte("recorded")),
                False: self.heads_query.add_cte(self.record_unapplied.cte("recorded"))}


def changed_message(revision: str, path: str, at: datetime) -> str:
    """What migrate, check and the CI annotations say of a migration edited after it ran."""
    return (f"Migration {revision} ({path}) has changed since it was applied on {at:%Y-%m-%d %H:%M:%S} UTC: the "
            "database ran the earlier text. Put the change in a new migration, or, once the edit is reviewed, "
            "run 'python manage.py repair' to record the file as it is now.")


def alembic_operations(connection: sa.Connection):
    """Alembic's operations on the connection, for the few changes our own tables need."""
    from alembic.operations import Operations
    from alembic.runtime.migration import MigrationContext

    return Operations(MigrationContext.configure(connection))


def rolls_back_ddl(connection: sa.Connection) -> bool:
    """Whether a failed migration leaves nothing of its DDL behind (PostgreSQL, SQLite as we
    run it); MariaDB and MySQL commit each DDL statement as it runs."""
    return connection.dialect.name not in ("mysql", "mariadb")


def unfinished_error(revision: str, forward: bool, migrations: list[graph.Migration], rolls_back: bool = False) -> str:
    """golang-migrate's "dirty" version, named, with the two ways out. Where the database rolls
    DDL back (``rolls_back``), only a migration that is not atomic leaves one."""
    parents = next((m.parents for m in migrations if m.revision == revision), ())
    before = ", ".join(parents) or "zero"
    done, undone = (revision, before) if forward else (before, revision)
    what = "Migration" if forward else "Unapplying"
    why = "it is not atomic, so what it did before it stopped stays" if rolls_back else \
        "this database cannot roll back what it did"
    return (f"{what} {revision} was started and did not finish, and {why}: "
            f"if all of it is in, run 'python manage.py fake {done}'; if not, undo what it did and run "
            f"'python manage.py fake {undone}'.")


def being_applied(revision: str) -> str:
    """What a reader that takes no lock says of an unfinished migration another migrate is running."""
    return (f"Migration {revision} is being applied by another migrate, which holds the deploy lock: "
            "look again once it has finished.")
