"""The issue's whole cycle through ``python manage.py``, on SQLite and on PostgreSQL: a new model
file, makemigrations, migrate forward and back, showmigrations, and fake."""

ORIGINAL = ["0001_create_table_hotels", "0002_create_table_rooms", "0003_add_users", "0004_make_email_unique"]


def test_full_cycle(project_copy, run_manage, database_url, succeeded, tables, revision, versions,
                    migration_header, add_bookings_model, together, app_tables):
    def manage(*args):
        return run_manage(project_copy, *args, database_url=database_url)

    assert versions(project_copy) == ORIGINAL
    add_bookings_model(project_copy)

    # makemigrations -n: one new file, named by -n, next in line after 0004. The user's database
    # is empty (at zero), yet only bookings is in it: the comparison is with a scratch database.
    assert succeeded(manage("makemigrations", "-n", "add_bookings")) == [
        "Migrations for 'project':",
        "  migrations/versions/0005_add_bookings.py",
        "    + Create table bookings",
        "    + Create index ix_bookings_room_id on bookings",
    ]
    assert versions(project_copy) == ORIGINAL + ["0005_add_bookings"]
    header = migration_header(project_copy / "migrations" / "versions" / "0005_add_bookings.py")
    assert header["revision"] == "0005_add_bookings"
    assert header["down_revision"] == "0004_make_email_unique"
    # And the user's database is left alone, still empty.
    assert tables(database_url) == set()

    # migrate: every migration, oldest first, and the tables are there.
    assert succeeded(manage("migrate")) == [
        "Operations to perform:",
        "  Apply all migrations: project",
        "Running migrations:",
        "  Applying 0001_create_table_hotels... OK",
        "  Applying 0002_create_table_rooms... OK",
        "  Applying 0003_add_users... OK",
        "  Applying 0004_make_email_unique... OK",
        "  Applying 0005_add_bookings... OK",
    ]
    assert app_tables(database_url) == {"hotels", "rooms", "users", "bookings"}
    assert revision(database_url) == "0005_add_bookings"

    # Both again, side by side: nothing to make (no file written), nothing to apply.
    again_makemigrations, again_migrate = together(lambda: manage("makemigrations"), lambda: manage("migrate"))
    assert succeeded(again_makemigrations) == ["No changes detected"]
    assert versions(project_copy) == ORIGINAL + ["0005_add_bookings"]
    assert succeeded(again_migrate) == [
        "Operations to perform:",
        "  Apply all migrations: project",
        "Running migrations:",
        "  No migrations to apply.",
    ]
    assert revision(database_url) == "0005_add_bookings"

    # Back to 0002: newest first, and their tables are dropped.
    assert succeeded(manage("migrate", "0002")) == [
        "Operations to perform:",
        "  Target specific migration: 0002_create_table_rooms, from project",
        "Running migrations:",
        "  Unapplying 0005_add_bookings... OK",
        "  Unapplying 0004_make_email_unique... OK",
        "  Unapplying 0003_add_users... OK",
    ]
    assert app_tables(database_url) == {"hotels", "rooms"}
    assert revision(database_url) == "0002_create_table_rooms"

    listing, plan = together(lambda: manage("showmigrations"), lambda: manage("showmigrations", "--plan", "-v", "2"))
    assert succeeded(listing) == [
        "project",
        " [X] 0001_create_table_hotels",
        " [X] 0002_create_table_rooms",
        " [ ] 0003_add_users",
        " [ ] 0004_make_email_unique",
        " [ ] 0005_add_bookings",
    ]
    assert succeeded(plan) == [
        "[X]  0001_create_table_hotels",
        "[X]  0002_create_table_rooms ... (0001_create_table_hotels)",
        "[ ]  0003_add_users ... (0002_create_table_rooms)",
        "[ ]  0004_make_email_unique ... (0003_add_users)",
        "[ ]  0005_add_bookings ... (0004_make_email_unique)",
    ]

    # zero: everything unapplied, no app table left.
    assert succeeded(manage("migrate", "zero")) == [
        "Operations to perform:",
        "  Unapply all migrations: project",
        "Running migrations:",
        "  Unapplying 0002_create_table_rooms... OK",
        "  Unapplying 0001_create_table_hotels... OK",
    ]
    assert app_tables(database_url) == set()
    assert revision(database_url) is None

    # --fake and fake: the version moves, no migration runs, no table is made.
    assert succeeded(manage("migrate", "0003", "--fake")) == [
        "Operations to perform:",
        "  Target specific migration: 0003_add_users, from project",
        "Running migrations:",
        "  Applying 0001_create_table_hotels... FAKED",
        "  Applying 0002_create_table_rooms... FAKED",
        "  Applying 0003_add_users... FAKED",
    ]
    assert app_tables(database_url) == set()
    assert revision(database_url) == "0003_add_users"

    assert succeeded(manage("fake", "head")) == [
        "Operations to perform:",
        "  Apply all migrations: project",
        "Running migrations:",
        "  Applying 0004_make_email_unique... FAKED",
        "  Applying 0005_add_bookings... FAKED",
    ]
    assert app_tables(database_url) == set()
    assert revision(database_url) == "0005_add_bookings"
