"""A project's own commands, as Django's ``APP/management/commands/NAME.py``, and an installed
distribution's through the ``manage_migrations.commands`` entry point group: run, listed and
failing as the built-in ones do. Through ``python manage.py`` in a subprocess."""

CLOSEROOM = '''\
import click
import sqlalchemy as sa

from manage_migrations.management import CommandError, session


@click.command()
@click.argument("number")
@click.option("--hotel", type=int, default=1, show_default=True, help="The hotel of the room.")
def command(number, hotel):
    """Closes a room: it is taken off the hotel's list."""
    with session() as db:
        deleted = db.execute(sa.text("DELETE FROM rooms WHERE number = :number AND hotel_id = :hotel"),
                             {"number": number, "hotel": hotel}).rowcount
        if not deleted:
            raise CommandError(f"No room {number} in hotel {hotel}.")
        db.commit()
    click.echo(f"Closed room {number}.")
'''
OWN_MIGRATE = '''\
import click


@click.command()
def command():
    """The project's own migrate."""
    click.echo("the project's migrate")
'''
HELLO = '''\
import click


@click.command()
def hello():
    """Says hello from an add-on."""
    click.echo("hello from the add-on")
'''


def commands_folder(project):
    folder = project / "project" / "management" / "commands"
    folder.mkdir(parents=True)
    (folder.parent / "__init__.py").write_text("")
    (folder / "__init__.py").write_text("")
    return folder


def test_a_project_command_runs_with_the_project_s_database_options_and_errors(project_copy, run_manage,
                                                                               database_url, sql):
    (commands_folder(project_copy) / "closeroom.py").write_text(CLOSEROOM)
    assert run_manage(project_copy, "migrate", database_url=database_url).returncode == 0
    sql(database_url, "INSERT INTO hotels (id, name, city) VALUES (1, 'Grand', 'Lyon')")
    sql(database_url, "INSERT INTO rooms (hotel_id, number, beds, price_per_night) VALUES (1, '101', 2, 90)")

    closed = run_manage(project_copy, "closeroom", "101", "--hotel", "1", "-v", "2", "--no-color",
                        database_url=database_url)
    assert (closed.returncode, closed.stdout, closed.stderr) == (0, "Closed room 101.\n", "")
    assert sql(database_url, "SELECT number FROM rooms") == []

    missing = run_manage(project_copy, "closeroom", "999", database_url=database_url)
    assert (missing.returncode, missing.stderr) == (1, "CommandError: No room 999 in hotel 1.\n")
    traced = run_manage(project_copy, "closeroom", "999", "--traceback", database_url=database_url)
    assert traced.returncode == 1 and "Traceback" in traced.stderr

    listed = run_manage(project_copy, "help", database_url=database_url).stdout
    assert "Commands of project:" in listed
    assert listed.split("Commands of project:")[1].split()[0] == "closeroom"
    helped = run_manage(project_copy, "closeroom", "--help", database_url=database_url)
    assert helped.returncode == 0 and "Closes a room" in helped.stdout and "--verbosity" in helped.stdout


def test_a_project_command_that_shadows_a_built_in_one_is_an_error_unless_it_replaces_it(project_copy, run_manage,
                                                                                         sqlite_url):
    migrate = commands_folder(project_copy) / "migrate.py"
    migrate.write_text(OWN_MIGRATE)

    refused = run_manage(project_copy, "migrate", database_url=sqlite_url)
    assert refused.returncode == 1
    assert refused.stderr == ("CommandError: project has a command 'migrate', which is one of manage.py's own: "
                              "rename it, or set REPLACES = True in its module to replace manage.py's.\n")
    assert run_manage(project_copy, "showmigrations", database_url=sqlite_url).returncode == 0

    migrate.write_text(OWN_MIGRATE + "\nREPLACES = True\n")
    replaced = run_manage(project_copy, "migrate", database_url=sqlite_url)
    assert (replaced.returncode, replaced.stdout) == (0, "the project's migrate\n")


def test_an_installed_distribution_adds_commands_through_its_entry_points(project_copy, run_manage, sqlite_url,
                                                                          tmp_path):
    """As Flask's ``flask.commands``: the distribution's entry point names a Click command."""
    site = tmp_path / "addon_site"
    (site / "hello_addon-1.0.dist-info").mkdir(parents=True)
    (site / "hello_addon-1.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: hello-addon\n"
                                                                 "Version: 1.0\n")
    (site / "hello_addon-1.0.dist-info" / "entry_points.txt").write_text(
        "[manage_migrations.commands]\nhello = hello_addon:hello\n")
    (site / "hello_addon.py").write_text(HELLO)

    said = run_manage(project_copy, "hello", "-v", "0", database_url=sqlite_url, env={"PYTHONPATH": str(site)})
    assert (said.returncode, said.stdout) == (0, "hello from the add-on\n"), said.stderr
    listed = run_manage(project_copy, "help", database_url=sqlite_url, env={"PYTHONPATH": str(site)}).stdout
    assert "Commands of hello-addon:" in listed
