"""The migrations a squash replaced, kept in ``migrations/replaced/`` (where Alembic does not
look), and the history a database part-way through them is migrated in, as Django's loader
keeps replaced migrations while they exist."""
import dataclasses
from pathlib import Path

from manage_migrations import graph, loader
from manage_migrations.conf import Settings
from manage_migrations.graph import Migration


def replaced_folder(settings: Settings) -> Path:
    """Where the files of squashed migrations go: beside env.py, outside every version location."""
    return settings.migrations_dir / "replaced"


def replaced_files(settings: Settings) -> list[str]:
    return loader.migration_files([replaced_folder(settings)], settings.sourceless)


def history(settings: Settings, migrations: list[Migration], state: tuple[str, ...]):
    """The history to plan in for a database at ``state``, and the squashed migrations to record
    once the last migration they replace is applied ({last replaced: squashed}). Usually the
    files as they are; for a database part-way through what a squashed migration replaces, the
    history before it, with the replaced files read back from ``migrations/replaced/``."""
    part_way = graph.part_way(state, migrations)
    if not part_way:
        return migrations, {}
    files = {Path(path).stem: path for path in replaced_files(settings)}
    record_after = {}
    for squashed in part_way:
        headers = [loader.read_migration(Path(files[name])) for name in squashed.replaces if name in files]
        # An earlier squash among them stands for its own replaced files, which may be gone.
        covered = {revision for h in headers for revision in h.replaces}
        if not all(name in files or name in covered for name in squashed.replaces):
            continue  # graph.applied says so in one line; fake forgets the revision
        migrations = graph.before_squash(migrations, squashed, [
            Migration(h.revision, h.down_revision, files[h.revision], h.depends_on, h.branch_labels, h.replaces,
                      settings.app_label)
            for h in headers])
        record_after[squashed.replaces[-1]] = squashed
    labels = {label: m.revision for m in migrations for label in m.branch_labels}
    migrations = [dataclasses.replace(m, depends_on=tuple(labels.get(d, d) for d in m.depends_on)) for m in migrations]
    return migrations, record_after


def before_squashed(target: str, history: list[Migration], record_after: dict[str, Migration]) -> str:
    """A target naming a squashed migration the database is part-way through (absent from
    ``history``): the last migration it replaces, as Django's migrate takes it."""
    named = [last for last, squashed in record_after.items() if squashed.revision.startswith(target)]
    if len(named) == 1 and not any(m.revision.startswith(target) for m in history):
        return named[0]
    return target


