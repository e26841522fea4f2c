"""manage_migrations.loader: the migration files read as data. A header of literals is read from the
source (``ast``), the file never imported; any other header by loading the file as Alembic
does, and the tests compare what we read with what Alembic's own ``Script`` objects hold.

Every test writes its files in tmp_path; the last ones read the repository's own four migrations."""
import py_compile
import textwrap
from pathlib import Path

import pytest
from alembic import util
from alembic.script import ScriptDirectory

from manage_migrations import loader, source
from manage_migrations.graph import Migration
from manage_migrations.loader import Header
from manage_migrations.output import CommandError

REPO_VERSIONS = Path(__file__).resolve().parents[2] / "migrations" / "versions"


def write(folder: Path, name: str, source: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(source))
    return path


def migration_file(folder: Path, revision: str, down_revision=None, depends_on=None, branch_labels=None) -> Path:
    """A file as Alembic's own template writes it, with annotated assignments."""
    return write(folder, f"{revision}.py", f'''\
        """{revision}"""
        from typing import Sequence, Union

        from alembic import op
        import sqlalchemy as sa

        revision: str = {revision!r}
        down_revision: Union[str, Sequence[str], None] = {down_revision!r}
        branch_labels: Union[str, Sequence[str], None] = {branch_labels!r}
        depends_on: Union[str, Sequence[str], None] = {depends_on!r}


        def upgrade() -> None:
            pass


        def downgrade() -> None:
            pass
        ''')


def alembic_reads(folders: list[Path], sourceless=False, recursive=False) -> list[tuple[str, Header]]:
    """The files Alembic loads from the folders, in its order, each with what its ``Script`` holds."""
    scripts = ScriptDirectory(str(folders[0].parent), version_locations=[str(folder) for folder in folders],
                              sourceless=sourceless, recursive_version_locations=recursive)._load_revisions()
    return [(script.path, Header(script.revision, script._versioned_down_revisions,
                                 util.to_tuple(script.dependencies, default=()), script._orig_branch_labels))
            for script in scripts]


def we_read(folders: list[Path], sourceless=False, recursive=False) -> list[tuple[str, Header]]:
    return [(path, loader.read_migration(Path(path))) for path in loader.migration_files(folders, sourceless, recursive)]


def alembic_header(path: Path) -> Header:
    [(_, header)] = alembic_reads([path.parent])
    return header


def message(excinfo) -> str:
    return excinfo.value.format_message()


# read_migration: a header of literals, read from the source


def test_plain_assignments(tmp_path):
    path = write(tmp_path, "0002_b.py", """\
        from alembic import op
        revision = '0002_b'
        down_revision = '0001_a'
        branch_labels = None
        depends_on = None
        """)

    assert loader.read_migration(path) == Header("0002_b", ("0001_a",), (), ())


def test_annotated_assignments_as_alembics_template_writes_them(tmp_path):
    path = migration_file(tmp_path, "0001_x", down_revision=None)

    assert loader.read_migration(path) == Header("0001_x", (), (), ())


def test_annotated_assignment_with_a_parent(tmp_path):
    path = write(tmp_path, "0002_y.py", """\
        from typing import Union
        revision: str = '0002_y'
        down_revision: Union[str, None] = '0001_x'
        """)

    assert loader.read_migration(path).down_revision == ("0001_x",)


def test_an_annotation_without_a_value_is_not_an_assignment(tmp_path):
    path = write(tmp_path, "0002_y.py", """\
        revision: str
        revision = '0002_y'
        down_revision: str
        down_revision = '0001_x'
        """)

    assert loader.read_migration(path) == Header("0002_y", ("0001_x",), (), ())


def test_a_merge_has_every_parent_of_its_tuple_in_order(tmp_path):
    path = write(tmp_path, "0006_merge.py", """\
        revision = '0006_merge'
        down_revision = ('0005_add_phone', '0005_add_rating')
        """)

    assert loader.read_migration(path).down_revision == ("0005_add_phone", "0005_add_rating")


def test_depends_on_and_branch_labels_are_kept_apart_from_down_revision(tmp_path):
    path = migration_file(tmp_path, "0003_c", down_revision="0002_b", depends_on="0001_other", branch_labels="users")

    assert loader.read_migration(path) == Header("0003_c", ("0002_b",), ("0001_other",), ("users",))


def test_lists_are_read_as_tuples(tmp_path):
    path = write(tmp_path, "0004_d.py", """\
        revision = '0004_d'
        down_revision = ['0003_a', '0003_b']
        depends_on = ['0001_x', '0002_y']
        branch_labels = ['users', 'audit']
        """)

    assert loader.read_migration(path) == Header("0004_d", ("0003_a", "0003_b"), ("0001_x", "0002_y"),
                                                ("users", "audit"))


def test_a_literal_header_is_read_without_importing_the_file(tmp_path):
    path = write(tmp_path, "0001_a.py", """\
        raise RuntimeError('imported!')
        import nonexistent_module
        revision = '0001_a'
        down_revision = None
        """)

    assert loader.read_migration(path) == Header("0001_a", (), (), ())


@pytest.mark.parametrize("source, line, detail", [
    ("revision = '0001_a'\ndown_revision = None\n\ndef upgrade(:\n    pass\n", 4, "invalid syntax"),
    ("revision = '0001_a'\ndown_revision = (\n", 2, "'(' was never closed"),
    ("revision = '0001_a'\n  down_revision = None\n", 2, "unexpected indent"),
])
def test_a_syntax_error_names_the_file_and_the_line(tmp_path, source, line, detail):
    path = tmp_path / "0001_a.py"
    path.write_text(source)

    with pytest.raises(CommandError) as excinfo:
        loader.read_migration(path)

    assert message(excinfo) == f"Migration file 0001_a.py has a syntax error at line {line}: {detail}"


# read_migration: any other header, read by loading the file as Alembic does


@pytest.mark.parametrize("source", [
    pytest.param("revision = 'c1'\ndown_revision = 'b1'\n", id="literals"),
    pytest.param("revision: str = 'c1'\ndown_revision: tuple = ('b1',)\n", id="annotated literals"),
    pytest.param("REVISION = 'c1'\nrevision = REVISION\ndown_revision = 'b1'\n", id="a name bound above"),
    pytest.param("revision = 'c' + '1'\ndown_revision = 'b1'\n", id="an expression"),
    pytest.param("revision: str = f'c{1}'\ndown_revision = 'b1'\n", id="annotated, not a literal"),
    pytest.param("revision, down_revision = 'c1', 'b1'\n", id="tuple unpacking"),
    pytest.param("revision = rev_id = 'c1'\ndown_revision = 'b1'\n", id="chained assignment"),
    pytest.param("if True:\n    revision = 'c1'\nelse:\n    revision = 'x'\ndown_revision = 'b1'\n", id="in an if"),
    pytest.param("try:\n    revision = 'c1'\nexcept ImportError:\n    revision = 'x'\ndown_revision = 'b1'\n",
                 id="in a try"),
    pytest.param("revision = 'x'\ndown_revision = 'b1'\nrevision = 'c1'\n", id="assigned again later"),
    pytest.param("revision = 'c'\nrevision += '1'\ndown_revision = 'b1'\n", id="augmented"),
    pytest.param("revision = 'c1'\ndown_revision = 'b1'\n\ndef upgrade():\n    revision = 'x'\n",
                 id="a local of the same name"),
    pytest.param("def header():\n    global revision\n    revision = 'c1'\n\nheader()\ndown_revision = 'b1'\n",
                 id="a global set in a function"),
    pytest.param("for revision in ['c1']:\n    pass\ndown_revision = 'b1'\n", id="a loop variable"),
    pytest.param("globals()['revision'] = 'c1'\ndown_revision = 'b1'\n", id="globals()"),
    pytest.param("globals().update(revision='c1', down_revision='b1')\n", id="globals() alone"),
    pytest.param("import builtins\nrevision = 'x'\ndown_revision = 'b1'\nbuiltins.exec(\"revision = 'c1'\")\n",
                 id="exec through an attribute"),
    pytest.param("import sys\nrevision = 'x'\ndown_revision = 'b1'\nsys._getframe().f_globals['revision'] = 'c1'\n",
                 id="the frame's globals"),
    pytest.param("down_revision = 'b1'\n\ndef __getattr__(name):\n    if name == 'revision':\n        return 'c1'\n"
                 "    raise AttributeError(name)\n", id="a module __getattr__"),
    pytest.param("revision = 'c1'\ndown_revision = {'b1': 1}\n", id="a dict: its keys"),
    pytest.param("# revision identifiers, used by Alembic.\nrevision = 'x'\ndown_revision = 'b1'\n"
                 "if True:\n    revision = 'c1'\n", id="assigned again after the template's comment"),
    pytest.param("revision = 'c1'\ndown_revision = 'b1'\ndepends_on = {frozenset(): 1}.get(frozenset(), None) and None\n",
                 id="an expression Python must run"),
])
def test_each_header_form_is_read_as_alembic_reads_it(tmp_path, source):
    path = write(tmp_path, "0003_c.py", source)

    assert loader.read_migration(path) == Header("c1", ("b1",), (), ()) == alembic_header(path)


def test_depends_on_and_branch_labels_computed_at_import_are_read_as_alembic_reads_them(tmp_path):
    path = write(tmp_path, "0003_c.py", """\
        BASE = 'a1'
        revision = 'c1'
        down_revision = ['b1', BASE]
        depends_on = [BASE.replace('a', 'x')]
        branch_labels = {'users'}
        """)

    assert loader.read_migration(path) == Header("c1", ("b1", "a1"), ("x1",), ("users",)) == alembic_header(path)


def test_a_file_without_revision_named_by_a_hex_id_has_that_id(tmp_path):
    path = write(tmp_path, "1975ea83b712.py", "down_revision = None\n")

    assert loader.read_migration(path) == Header("1975ea83b712", (), (), ()) == alembic_header(path)


@pytest.mark.parametrize("source, error", [
    ("raise RuntimeError('imported!')\nrevision = '0001' + '_a'\ndown_revision = None\n", "RuntimeError: imported!"),
    ("revision = REVISION\ndown_revision = None\n", "NameError: name 'REVISION' is not defined"),
    ("import nonexistent_module\nrevision = nonexistent_module.REVISION\ndown_revision = None\n",
     "ModuleNotFoundError: No module named 'nonexistent_module'"),
])
def test_a_header_that_is_not_literal_is_read_by_importing_the_file(tmp_path, source, error):
    path = write(tmp_path, "0001_a.py", source)

    with pytest.raises(CommandError) as excinfo:
        loader.read_migration(path)

    assert message(excinfo) == f"Migration file 0001_a.py does not import: {error}"


# read_migration: what Alembic refuses


@pytest.mark.parametrize("source", [
    "down_revision = None\n",
    "revision: str\ndown_revision = None\n",
    "def upgrade():\n    revision = '0001_a'\ndown_revision = None\n",
    "",
])
def test_a_file_without_a_revision_not_named_by_a_hex_id(tmp_path, source):
    path = write(tmp_path, "0001_a.py", source)

    with pytest.raises(CommandError) as excinfo:
        loader.read_migration(path)

    assert message(excinfo).startswith("Could not determine revision id from filename 0001_a.py.")


NO_DOWN_REVISION = ("Migration file 0001_a.py does not set down_revision (None for a first migration), "
                    "without which Alembic cannot load it.")


@pytest.mark.parametrize("source, expected", [
    ("revision = '0001_a'\n", NO_DOWN_REVISION),
    ("revision = '0001_a'\ndown_revision: str\n", NO_DOWN_REVISION),
    ("revision = None\ndown_revision = None\n",
     "Migration file 0001_a.py sets revision to None: revision ids are strings."),
    ("revision = 5\ndown_revision = None\n",
     "Migration file 0001_a.py sets revision to 5: revision ids are strings."),
    ("revision = 'a'\ndown_revision = 5\n",
     "Migration file 0001_a.py sets down_revision to 5: revision ids are strings."),
    ("revision = 'a'\ndown_revision = None\ndepends_on = ['x', None]\n",
     "Migration file 0001_a.py sets depends_on to ['x', None]: revision ids are strings."),
    ("revision = 'a'\ndown_revision = None\nbranch_labels = (1,)\n",
     "Migration file 0001_a.py sets branch_labels to (1,): revision ids are strings."),
    ("revision = 'x-1'\ndown_revision = None\n",
     "Character(s) '-' not allowed in revision identifier 'x-1' (0001_a.py)."),
    ("revision = 'x' + '-1'\ndown_revision = None\n",
     "Character(s) '-' not allowed in revision identifier 'x-1' (0001_a.py)."),
    ("revision = 'a@b+c:d'\ndown_revision = None\n",
     "Character(s) '+, :, @' not allowed in revision identifier 'a@b+c:d' (0001_a.py)."),
    ("revision = 'a'\ndown_revision = 'a'\n", "Self-loop is detected in revisions (a) (0001_a.py)."),
    ("revision = 'a'\ndown_revision = ('z', 'a')\n", "Self-loop is detected in revisions (a) (0001_a.py)."),
])
def test_a_header_alembic_refuses(tmp_path, source, expected):
    path = write(tmp_path, "0001_a.py", source)

    with pytest.raises(CommandError) as excinfo:
        loader.read_migration(path)

    assert message(excinfo) == expected


@pytest.mark.parametrize("source, words", [
    ("down_revision = None\n", "Could not determine revision id from filename 0001_a.py."),
    ("revision = 'x-1'\ndown_revision = None\n", "Character(s) '-' not allowed in revision identifier 'x-1'"),
    ("revision = 'a'\ndown_revision = 'a'\n", "Self-loop is detected in revisions (a)"),
])
def test_a_refusal_says_what_alembic_says(tmp_path, source, words):
    path = write(tmp_path, "0001_a.py", source)

    with pytest.raises(CommandError) as ours:
        loader.read_migration(path)
    with pytest.raises(Exception) as alembics:
        alembic_reads([tmp_path])

    assert message(ours).startswith(words) and str(alembics.value).startswith(words)


# read_migrations and migration_files


def test_read_migrations_ignores_init_editor_droppings_and_other_files(tmp_path):
    migration_file(tmp_path, "0001_a")
    migration_file(tmp_path, "0002_b", down_revision="0001_a")
    write(tmp_path, "__init__.py", "this is not even python(\n")
    write(tmp_path, "__init__x.py", "revision = '0003_init'\ndown_revision = '0002_b'\n")
    (tmp_path / ".#0002_b.py").symlink_to("root@host.1234:1700000000")  # Emacs's lock: a dangling link
    write(tmp_path, "README", "revision = 'readme'\n")
    write(tmp_path, "0002_b.py~", "revision = '0002_b'\n")
    (tmp_path / "__pycache__").mkdir()
    write(tmp_path / "__pycache__", "0003_c.py", "revision = '0003_c'\n")

    expected = [str(tmp_path / "0001_a.py"), str(tmp_path / "0002_b.py")]
    assert loader.migration_files([tmp_path]) == expected == [path for path, _ in alembic_reads([tmp_path])]
    assert loader.read_migrations([tmp_path]) == [Migration("0001_a", ()), Migration("0002_b", ("0001_a",))]


def test_read_migrations_of_an_empty_folder(tmp_path):
    assert loader.read_migrations([tmp_path]) == []


def test_read_migrations_keeps_each_files_path(tmp_path):
    first = migration_file(tmp_path, "0001_a")

    assert [m.path for m in loader.read_migrations([tmp_path])] == [str(first)]


def test_read_migrations_keeps_down_revision_depends_on_and_branch_labels_apart(tmp_path):
    migration_file(tmp_path, "0001_a", branch_labels="users")
    migration_file(tmp_path, "0002_b", down_revision="0001_a")
    migration_file(tmp_path, "0003_c", down_revision="0002_b", depends_on="0001_a")

    migrations = loader.read_migrations([tmp_path])

    assert migrations == [Migration("0001_a", (), branch_labels=("users",)), Migration("0002_b", ("0001_a",)),
                          Migration("0003_c", ("0002_b",), depends_on=("0001_a",))]
    assert migrations[-1].needs == ("0002_b", "0001_a")


def test_a_depends_on_naming_a_branch_label_is_the_revision_that_declares_it(tmp_path):
    migration_file(tmp_path, "0001_a", branch_labels="users")
    migration_file(tmp_path, "0001_x")
    migration_file(tmp_path, "0002_y", down_revision="0001_x", depends_on="users")
    alembic = ScriptDirectory(str(tmp_path.parent), version_locations=[str(tmp_path)])

    assert loader.read_migrations([tmp_path])[-1].depends_on == ("0001_a",)
    assert alembic.get_revision("0002_y")._resolved_dependencies == ("0001_a",)


@pytest.mark.parametrize("label", ["users", "0001_a"])
def test_a_branch_label_declared_twice_or_naming_a_revision(tmp_path, label):
    migration_file(tmp_path, "0001_a", branch_labels="users")
    migration_file(tmp_path, "0002_b", down_revision="0001_a", branch_labels=label)

    with pytest.raises(CommandError) as excinfo:
        loader.read_migrations([tmp_path])

    assert message(excinfo) == f"Branch name '{label}' in revision 0002_b already used by revision 0001_a."


def test_folders_are_read_in_the_order_given_each_sorted_by_name_as_strings(tmp_path):
    first, second = tmp_path / "zeta", tmp_path / "alpha"
    first.mkdir()
    second.mkdir()
    migration_file(first, "9_a")
    migration_file(first, "10_b", down_revision="9_a")
    migration_file(second, "1_c", down_revision="10_b")

    expected = [str(first / "10_b.py"), str(first / "9_a.py"), str(second / "1_c.py")]
    assert [m.path for m in loader.read_migrations([first, second])] == expected
    assert we_read([first, second]) == alembic_reads([first, second])
    assert [path for path, _ in alembic_reads([first, second])] == expected


@pytest.mark.filterwarnings("ignore:File .* loaded twice")
def test_a_file_reached_twice_is_read_once_at_its_real_path(tmp_path):
    versions, elsewhere, linked = tmp_path / "versions", tmp_path / "elsewhere", tmp_path / "linked"
    versions.mkdir()
    elsewhere.mkdir()
    linked.symlink_to(versions)
    migration_file(versions, "0001_a")
    (versions / "0001_a_copy.py").symlink_to("0001_a.py")
    (versions / "0002_b.py").symlink_to(migration_file(elsewhere, "0002_b", down_revision="0001_a"))

    expected = [str(versions / "0001_a.py"), str(elsewhere / "0002_b.py")]
    assert [m.path for m in loader.read_migrations([linked, versions])] == expected
    assert [path for path, _ in alembic_reads([linked, versions])] == expected


def test_sourceless_adds_compiled_files_whose_source_is_gone(tmp_path):
    a = migration_file(tmp_path, "0001_a")
    b = migration_file(tmp_path, "0002_b", down_revision="0001_a")
    c = migration_file(tmp_path, "0003_c", down_revision="0002_b")
    py_compile.compile(str(a), cfile=str(tmp_path / "0001_a.pyc"))  # beside its source
    py_compile.compile(str(a), cfile=str(tmp_path / "0001_a.pyo"))  # a .pyc is preferred to it
    b_pyc = py_compile.compile(str(b))  # in __pycache__
    py_compile.compile(str(c))  # its source is preferred to it
    a.unlink()
    b.unlink()

    expected = [str(tmp_path / "0001_a.pyc"), str(c), b_pyc]
    assert loader.migration_files([tmp_path]) == [str(c)]
    assert loader.migration_files([tmp_path], sourceless=True) == expected
    assert [(m.revision, m.parents) for m in loader.read_migrations([tmp_path], sourceless=True)] == [
        ("0001_a", ()), ("0003_c", ("0002_b",)), ("0002_b", ("0001_a",))]
    assert we_read([tmp_path], sourceless=True) == alembic_reads([tmp_path], sourceless=True)


def test_recursive_reads_subfolders_after_their_parent_in_name_order(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "a").mkdir()
    migration_file(tmp_path, "0001_x")
    migration_file(tmp_path / "b", "0003_z", down_revision="0002_y")
    migration_file(tmp_path / "a", "0002_y", down_revision="0001_x")

    assert [m.revision for m in loader.read_migrations([tmp_path])] == ["0001_x"]
    assert [m.revision for m in loader.read_migrations([tmp_path], recursive=True)] == ["0001_x", "0002_y", "0003_z"]
    assert we_read([tmp_path], recursive=True) == alembic_reads([tmp_path], recursive=True)


def test_two_files_with_one_revision_id_are_named_both(tmp_path):
    migration_file(tmp_path, "0001_a")
    write(tmp_path, "0002_add_phone.py", "revision = '0002_add_phone'\ndown_revision = '0001_a'\n")
    write(tmp_path, "0002_add_phone_copy.py", "revision = '0002_add_phone'\ndown_revision = '0001_a'\n")

    with pytest.raises(CommandError) as excinfo:
        loader.read_migrations([tmp_path])

    assert message(excinfo) == ("Revision '0002_add_phone' is declared by two files: "
                                "0002_add_phone.py and 0002_add_phone_copy.py.")


def test_a_file_whose_name_is_not_its_revision_can_still_clash(tmp_path):
    write(tmp_path, "0001_a.py", "revision = 'abc123'\ndown_revision = None\n")
    write(tmp_path, "0001_b.py", "revision = 'abc123'\ndown_revision = None\n")

    with pytest.raises(CommandError) as excinfo:
        loader.read_migrations([tmp_path])

    assert message(excinfo) == "Revision 'abc123' is declared by two files: 0001_a.py and 0001_b.py."


def test_a_parent_that_no_file_has(tmp_path):
    migration_file(tmp_path, "0001_a")
    migration_file(tmp_path, "0003_c", down_revision="0002_gone")

    with pytest.raises(CommandError) as excinfo:
        loader.read_migrations([tmp_path])

    assert message(excinfo) == "Migration 0003_c depends on '0002_gone', which no migration file has."


def test_a_depends_on_that_no_file_has_nor_any_label(tmp_path):
    migration_file(tmp_path, "0001_a", branch_labels="users")
    migration_file(tmp_path, "0002_b", down_revision="0001_a", depends_on="0001_elsewhere")

    with pytest.raises(CommandError) as excinfo:
        loader.read_migrations([tmp_path])

    assert message(excinfo) == "Migration 0002_b depends on '0001_elsewhere', which no migration file has."


def test_a_set_of_lists_is_python_s_error_not_a_crash(tmp_path):
    path = write(tmp_path, "0001_a.py", "revision = 'a'\ndown_revision = None\ndepends_on = {['x']}\n")

    with pytest.raises(CommandError) as excinfo:
        loader.read_migration(path)

    assert message(excinfo) == "Migration file 0001_a.py does not import: TypeError: unhashable type: 'list'"


def test_a_nul_byte_is_a_syntax_error_without_a_line(tmp_path):
    path = tmp_path / "0001_a.py"
    path.write_bytes(b"revision = 'a'\x00\ndown_revision = None\n")

    with pytest.raises(CommandError) as excinfo:
        loader.read_migration(path)

    assert message(excinfo) == "Migration file 0001_a.py has a syntax error: source code string cannot contain null bytes"


@pytest.mark.parametrize("sources, expected", [
    ([("0001_a", "revision = 'a'\ndown_revision = None\ndepends_on = 'a'\n")], "(a)"),
    ([("0001_a", "revision = 'a'\ndown_revision = None\nbranch_labels = 'lab'\ndepends_on = 'lab'\n")], "(a)"),
    ([("0001_a", "revision = 'a'\ndown_revision = 'b'\n"), ("0002_b", "revision = 'b'\ndown_revision = 'a'\n")],
     "(a, b)"),
])
def test_a_history_in_a_cycle_is_refused(tmp_path, sources, expected):
    for name, text in sources:
        write(tmp_path, f"{name}.py", text)

    with pytest.raises(CommandError) as excinfo:
        loader.read_migrations([tmp_path])

    assert message(excinfo) == f"Cycle is detected in revisions {expected}."


def test_a_down_revision_naming_a_branch_label_is_refused(tmp_path):
    """Alembic takes labels in depends_on only; in down_revision it fails with a KeyError."""
    migration_file(tmp_path, "0001_a", branch_labels="lab")
    migration_file(tmp_path, "0002_b", down_revision="lab")

    with pytest.raises(CommandError) as excinfo:
        loader.read_migrations([tmp_path])

    assert message(excinfo) == "Migration 0002_b depends on 'lab', which no migration file has."


def test_read_migrations_reports_a_syntax_error_in_any_file(tmp_path):
    migration_file(tmp_path, "0001_a")
    (tmp_path / "0002_b.py").write_text("revision = '0002_b'\ndown_revision = '0001_a'\nif True\n    pass\n")

    with pytest.raises(CommandError) as excinfo:
        loader.read_migrations([tmp_path])

    assert message(excinfo) == "Migration file 0002_b.py has a syntax error at line 3: expected ':'"


# operations


def with_bodies(tmp_path: Path, upgrade: str, downgrade: str = "pass") -> str:
    source = (
        "from alembic import op\nimport logging\nimport sqlalchemy as sa\n\n"
        "logger = logging.getLogger(__name__)\nrevision = '0005_x'\ndown_revision = '0004_y'\n\n\n"
        "def upgrade() -> None:\n" + textwrap.indent(textwrap.dedent(upgrade), "    ") + "\n\n"
        "def downgrade() -> None:\n" + textwrap.indent(textwrap.dedent(downgrade), "    ") + "\n"
    )
    path = tmp_path / "0005_x.py"
    path.write_text(source)
    return str(path)


@pytest.mark.parametrize("body, expected", [
    ("op.create_table('bookings', sa.Column('id', sa.Integer(), nullable=False),\n"
     "                sa.PrimaryKeyConstraint('id', name=op.f('pk_bookings')))",
     [("Create table bookings", False)]),
    ("op.drop_table('bookings')", [("Drop table bookings", True)]),
    ("op.add_column('users', sa.Column('phone', sa.String(length=30), nullable=True))",
     [("Add column phone to users", False)]),
    ("op.drop_column('users', 'phone')", [("Remove column phone from users", True)]),
    ("op.create_index(op.f('ix_a'), 'rooms', ['x'], unique=False)", [("Create index ix_a on rooms", False)]),
    ("op.drop_index('ix_a', table_name='rooms')", [("Drop index ix_a from rooms", False)]),
    ("op.alter_column('users', 'email', existing_type=sa.String(254), nullable=True)",
     [("Alter column email on users", False)]),
    ("op.create_unique_constraint('uq_users_email', 'users', ['email'])",
     [("Create unique constraint uq_users_email on users", False)]),
    ("op.create_foreign_key('fk_rooms_hotel_id_hotels', 'rooms', 'hotels', ['hotel_id'], ['id'])",
     [("Create foreign key fk_rooms_hotel_id_hotels on rooms", False)]),
    ("op.drop_constraint('uq_users_email', 'users', type_='unique')",
     [("Drop constraint uq_users_email from users", False)]),
])
def test_operations_outside_a_batch(tmp_path, body, expected):
    assert source.operations(with_bodies(tmp_path, body)) == expected


def test_operations_in_a_batch_take_the_batchs_table(tmp_path):
    path = with_bodies(tmp_path, """\
        with op.batch_alter_table('users', schema=None) as batch_op:
            batch_op.add_column(sa.Column('phone', sa.String(length=30), nullable=True))
            batch_op.create_index(batch_op.f('ix_users_phone'), ['phone'], unique=False)
            batch_op.drop_column('nickname')
        """)

    assert source.operations(path) == [
        ("Add column phone to users", False),
        ("Create index ix_users_phone on users", False),
        ("Remove column nickname from users", True),
    ]


def test_batch_drop_column_destroys_data(tmp_path):
    path = with_bodies(tmp_path, "pass", """\
        with op.batch_alter_table('users') as batch_op:
            batch_op.drop_column('phone')
        """)

    assert source.operations(path, forward=False) == [("Remove column phone from users", True)]
    assert source.operations(path) == []


def test_a_batch_named_by_keyword(tmp_path):
    path = with_bodies(tmp_path, """\
        with op.batch_alter_table(table_name='rooms') as batch:
            batch.drop_index(batch.f('ix_rooms_hotel_id'))
        """)

    assert source.operations(path) == [("Drop index ix_rooms_hotel_id from rooms", False)]


def test_upgrade_and_downgrade_are_read_apart(tmp_path):
    path = with_bodies(tmp_path,
                       "op.add_column('users', sa.Column('phone', sa.String(30)))",
                       "op.drop_column('users', 'phone')")

    assert source.operations(path) == [("Add column phone to users", False)]
    assert source.operations(path, forward=False) == [("Remove column phone from users", True)]


def test_calls_on_other_receivers_are_ignored(tmp_path):
    path = with_bodies(tmp_path, """\
        print('dropping the table now')
        logger.info('drop_table %s', 'bookings')
        sa.Column('ignored', sa.Integer())
        bind = op.get_bind()
        op.drop_table('bookings')
        logger.warning('done')
        """)

    assert source.operations(path) == [("Drop table bookings", True)]


def test_an_operation_on_a_variable_named_like_a_batch_outside_one_is_ignored(tmp_path):
    path = with_bodies(tmp_path, """\
        batch_op.drop_column('phone')
        with open('notes.txt') as batch_op:
            batch_op.write('x')
        """)

    assert source.operations(path) == []


def test_operations_in_nested_blocks_are_found(tmp_path):
    path = with_bodies(tmp_path, """\
        if op.get_context().dialect.name == 'postgresql':
            op.drop_column('users', 'legacy')
        for table in ('a', 'b'):
            op.drop_table('bookings')
        """)

    assert source.operations(path) == [("Remove column legacy from users", True), ("Drop table bookings", True)]


def test_operations_in_an_else_branch_are_found_too(tmp_path):
    # A dialect-specific migration: what runs on PostgreSQL is in the else branch, and a plan
    # that left it out would not mark the dropped column as destroying data.
    path = with_bodies(tmp_path, """\
        if op.get_context().dialect.name == 'sqlite':
            pass
        else:
            op.drop_column('users', 'legacy')
        """)

    assert source.operations(path) == [("Remove column legacy from users", True)]


def test_a_file_without_upgrade_or_downgrade_has_no_operations(tmp_path):
    path = tmp_path / "0001_a.py"
    path.write_text("revision = '0001_a'\ndown_revision = None\n")

    assert source.operations(str(path)) == []
    assert source.operations(str(path), forward=False) == []


def test_an_empty_migration_has_no_operations(tmp_path):
    assert source.operations(with_bodies(tmp_path, "pass", "pass")) == []


# the repository's own migrations


def test_the_repositorys_migrations_are_read_in_order():
    migrations = loader.read_migrations([REPO_VERSIONS])

    assert [(m.revision, m.parents) for m in migrations] == [
        ("0001_create_table_hotels", ()),
        ("0002_create_table_rooms", ("0001_create_table_hotels",)),
        ("0003_add_users", ("0002_create_table_rooms",)),
        ("0004_make_email_unique", ("0003_add_users",)),
    ]
    assert [Path(m.path) for m in migrations] == [REPO_VERSIONS / f"{m.revision}.py" for m in migrations]


@pytest.mark.parametrize("revision, upgrade, downgrade", [
    ("0001_create_table_hotels", [("Create table hotels", False)], [("Drop table hotels", True)]),
    ("0002_create_table_rooms",
     [("Create table rooms", False), ("Create index ix_rooms_hotel_id on rooms", False)],
     [("Drop table rooms", True)]),
    ("0003_add_users", [("Create table users", False)], [("Drop table users", True)]),
    ("0004_make_email_unique",
     [("Create unique constraint uq_users_email on users", False)],
     [("Drop constraint uq_users_email from users", False)]),
])
def test_the_repositorys_migrations_operations(revision, upgrade, downgrade):
    path = str(REPO_VERSIONS / f"{revision}.py")

    assert source.operations(path) == upgrade
    assert source.operations(path, forward=False) == downgrade
