"""``lintmigrations``: django-migration-linter's command, for CI and deploys. The migrations the
configured database has not applied (or the one named) are checked for steps that break the
code still running during a rolling deploy, and on PostgreSQL for lock hazards (squawk's rules);
see ``manage_migrations.lint``."""
from manage_migrations import graph, lint, machine
from manage_migrations.conf import Settings
from manage_migrations.graph import app_and_target
from manage_migrations.loader import migrations_of
from manage_migrations.output import CommandError, Console, display_path


def lintmigrations(settings: Settings, console: Console, app: str | None = None, target: str | None = None,
                   output_format: str = "text") -> None:
    """Lint the migrations still to apply (of ``app``, when named), or the ``target`` migration;
    print one line per finding (or JSON), and fail when any is left."""
    from manage_migrations import database

    migrations = migrations_of(settings)
    app, target = app_and_target(migrations, app, target, settings.app_labels)
    url = database.database_url(settings)
    if target is not None:
        names = [graph.find(target, migrations, app)]
    else:
        names = unapplied(settings, url, migrations, app)
    by_id, app_of = {m.revision: m for m in migrations}, graph.apps(migrations)
    postgresql = url.get_backend_name() == "postgresql"
    findings = [finding for name in names for finding in
                lint.lint(by_id[name], app_of[name], display_path(by_id[name].path), postgresql, settings)]
    if output_format == "json":
        machine.dump("lintmigrations", {"migrations": names, "findings": [f._asdict() for f in findings]})
    else:
        for finding in findings:
            console.line(str(finding), level=0)
    for finding in findings:  # under GitHub Actions only
        machine.annotation("error", machine.repository_path(finding.file), finding.line,
                           f"{finding.rule}: {finding.message}. Safer: {finding.safer}.", err=output_format == "json")
    if findings:
        raise CommandError(f"lintmigrations found {len(findings)} issue{'s' if len(findings) > 1 else ''} in "
                           f"{', '.join(dict.fromkeys(f.migration for f in findings))}.")
    if output_format != "json":
        console.line(f"No issues in {len(names)} migration{'' if len(names) == 1 else 's'}." if names
                     else "No migrations to lint.")


def unapplied(settings: Settings, url, migrations: list[graph.Migration], app: str | None) -> list[str]:
    """The migrations ``migrate`` would apply (to ``app``'s heads, when named), in order."""
    from manage_migrations import database, recorder

    heads = graph.app_heads(migrations)[app] if app else graph.single_head(migrations)
    state = database.run(url, recorder.of(settings).current_state)
    return [revision for revision, forward in graph.plan(migrations, state, heads, app) if forward]
