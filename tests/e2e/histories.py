"""Alembic histories for tests/e2e/test_alembic_histories.py, written by hand into a project copy
as a team using Alembic's branches would have them: labelled branches with bases of their own,
merges, ``depends_on`` across branches, headers in every form Alembic accepts, and migration
files in several folders. Each ``History`` also says which app (branch label) each migration
belongs to, the targets to compare with the plain ``alembic`` command, and how to make a conflict."""
import py_compile
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Callable


def write_migration(folder: Path, filename: str, header: str, upgrade: str = "pass", downgrade: str = "pass") -> Path:
    """``folder/filename``: imports, ``header`` as given (any form Alembic reads), ``upgrade()``
    and ``downgrade()`` with the given bodies."""
    folder.mkdir(parents=True, exist_ok=True)
    body = "\n".join([
        f'"""{filename}"""',
        "from alembic import op",
        "import sqlalchemy as sa",
        "",
        textwrap.dedent(header).strip(),
        "",
        "",
        "def upgrade() -> None:",
        textwrap.indent(textwrap.dedent(upgrade).strip(), "    "),
        "",
        "",
        "def downgrade() -> None:",
        textwrap.indent(textwrap.dedent(downgrade).strip(), "    "),
        "",
    ])
    path = folder / filename
    path.write_text(body)
    return path


def drop_column(table: str, column: str) -> str:
    """A downgrade that runs on SQLite too (batch mode rebuilds the table)."""
    return f"with op.batch_alter_table({table!r}) as batch_op:\n    batch_op.drop_column({column!r})"


@dataclass(frozen=True)
class History:
    name: str
    build: Callable[[Path], None]  # writes the history into a project copy (after removing the sample's)
    apps: dict[str, set[str]]  # each app label and its migrations
    # Walked in order from every head applied: (manage.py arguments, alembic arguments) that
    # must land on the same alembic_version and schema.
    targets: list[tuple[list[str], list[str]]]
    conflict: Callable[[Path], str]  # adds a second head to one app; returns Django's error for it


# 1. Labelled branches with bases of their own (expand, contract) and an unlabelled line with a
# merge. The file names load (a_, b_, c_) in another order than the revision ids sort
# (0001_contract_start first). Each file's header takes another of the forms Alembic reads:
# annotated as its template writes them, a name bound above, unpacking, a chained assignment, an
# expression, in an if, in a try.

def build_labelled_branches(project: Path) -> None:
    versions = project / "migrations" / "versions"
    write_migration(versions, "a_core_1.py", '''
        from typing import Sequence, Union

        revision: str = "0001_initial"
        down_revision: Union[str, None] = None
        branch_labels: Union[str, Sequence[str], None] = None
        depends_on: Union[str, Sequence[str], None] = None
        ''', 'op.create_table("core", sa.Column("id", sa.Integer, primary_key=True))', 'op.drop_table("core")')
    write_migration(versions, "a_core_2.py", '''
        PREVIOUS = "0001_initial"
        revision = "0002_core_note"
        down_revision = PREVIOUS
        ''', 'op.add_column("core", sa.Column("note", sa.Text()))', drop_column("core", "note"))
    write_migration(versions, "a_core_3.py", '''
        revision, down_revision = "0002_core_code", "0001_initial"
        ''', 'op.add_column("core", sa.Column("code", sa.String(20)))', drop_column("core", "code"))
    write_migration(versions, "a_core_4.py", '''
        revision = rev_id = "0003_merge"
        down_revision = ("0002_core_code", "0002_core_note")
        ''')
    write_migration(versions, "b_expand_1.py", '''
        revision = "0001_" + "expand_start"
        down_revision = None
        branch_labels = ("expand",)
        ''', 'op.create_table("ex_a", sa.Column("id", sa.Integer, primary_key=True))', 'op.drop_table("ex_a")')
    write_migration(versions, "b_expand_2.py", '''
        LEGACY = False
        if LEGACY:
            revision, down_revision = "0002_legacy", None
        else:
            revision, down_revision = "0002_expand_more", "0001_expand_start"
        depends_on = "0001_initial"  # a revision of another app
        ''', '''
        op.create_table("ex_b", sa.Column("id", sa.Integer, primary_key=True),
                        sa.Column("core_id", sa.Integer, sa.ForeignKey("core.id", name="fk_ex_b_core_id_core")))
        ''', 'op.drop_table("ex_b")')
    write_migration(versions, "b_expand_3.py", '''
        try:
            revision, down_revision = "0003_expand_done", "0002_expand_more"
        except NameError:
            revision = down_revision = None
        ''', 'op.add_column("ex_a", sa.Column("flag", sa.Boolean()))', drop_column("ex_a", "flag"))
    write_migration(versions, "c_contract_1.py", '''
        revision = "0001_contract_start"
        down_revision = None
        branch_labels = "contract"
        ''', 'op.create_table("ct_a", sa.Column("id", sa.Integer, primary_key=True))', 'op.drop_table("ct_a")')
    write_migration(versions, "c_contract_2.py", '''
        revision = "0002_contract_more"
        down_revision = "0001_contract_start"
        depends_on = "expand"  # a branch label: the migration that declares it
        ''', '''
        op.create_table("ct_b", sa.Column("id", sa.Integer, primary_key=True),
                        sa.Column("ex_a_id", sa.Integer, sa.ForeignKey("ex_a.id", name="fk_ct_b_ex_a_id_ex_a")))
        ''', 'op.drop_table("ct_b")')
    write_migration(versions, "c_contract_3.py", '''
        revision: str = "0003_contract_done"
        down_revision: str = "0002_contract_more"
        depends_on: str = "0003_expand_done"  # expand's last migration: expand has no head of its own
        ''', 'op.add_column("ct_a", sa.Column("name", sa.String(50)))', drop_column("ct_a", "name"))


def second_head(app: str, parent: str, folder: str, prefix: str = "") -> Callable[[Path], str]:
    """A conflict maker for ``History.conflict``: two new heads of ``app`` after ``parent``, in
    ``folder`` of the project, with Django's error for them."""

    def make(project: Path) -> str:
        names = (f"0004_{app}_left", f"0004_{app}_right")
        for name in names:
            write_migration(project / folder, f"{prefix}{name}.py", f'revision, down_revision = "{name}", "{parent}"')
        return ("CommandError: Conflicting migrations detected; multiple leaf nodes in the migration graph: "
                f"({', '.join(names)} in {app}).\n"
                "To fix them run 'python manage.py makemigrations --merge'\n")

    return make


LABELLED_BRANCHES = History(
    name="labelled_branches",
    build=build_labelled_branches,
    apps={
        "contract": {"0001_contract_start", "0002_contract_more", "0003_contract_done"},
        "expand": {"0001_expand_start", "0002_expand_more", "0003_expand_done"},
        "project": {"0001_initial", "0002_core_note", "0002_core_code", "0003_merge"},
    },
    targets=[
        (["migrate", "expand@base"], ["downgrade", "expand@base"]),
        (["migrate", "heads"], ["upgrade", "heads"]),
        (["migrate", "expand", "zero"], ["downgrade", "expand@base"]),
        (["migrate", "expand@+2"], ["upgrade", "expand@+2"]),
        (["migrate", "expand@head"], ["upgrade", "expand@head"]),  # contract's 0003 needs expand's last
        (["migrate", "contract"], ["upgrade", "contract@head"]),
        (["migrate", "contract", "0002"], ["downgrade", "0002_contract_more"]),
        (["migrate", "contract@-1"], ["downgrade", "contract@-1"]),
        (["migrate", "0001_contract_start@head"], ["upgrade", "0001_contract_start@head"]),
        (["migrate", "0003_expand_done-1"], ["downgrade", "0003_expand_done-1"]),
        (["migrate", "project", "0001"], ["downgrade", "0001_initial"]),
        (["migrate"], ["upgrade", "heads"]),
    ],
    conflict=second_head("expand", "0003_expand_done", "migrations/versions", prefix="b_"),
)


# 2. Three version folders, listed in pyproject.toml's [tool.alembic]: the unlabelled line in
# migrations/versions, a labelled branch in each of shipping/versions and billing/versions
# (shipping's folder loads first, its ids sort last), and one migration kept only compiled
# (``sourceless = true``).

PYPROJECT_OPTIONS = '''\
version_locations = ["%(here)s/migrations/versions", "%(here)s/shipping/versions", "%(here)s/billing/versions"]
sourceless = true
'''


def build_version_folders(project: Path) -> None:
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("[tool.alembic]\n", f"[tool.alembic]\n{PYPROJECT_OPTIONS}"))
    versions, shipping, billing = (project / folder / "versions" for folder in ("migrations", "shipping", "billing"))
    write_migration(versions, "0001_initial.py", 'revision, down_revision = "0001_initial", None',
                    'op.create_table("core", sa.Column("id", sa.Integer, primary_key=True))', 'op.drop_table("core")')
    write_migration(versions, "0002_core_note.py", 'revision, down_revision = "0002_core_note", "0001_initial"',
                    'op.add_column("core", sa.Column("note", sa.Text()))', drop_column("core", "note"))
    write_migration(shipping, "0001_shipping_start.py", '''
        revision = "0001_shipping_start"
        down_revision = "0001_initial"  # a branch off the unlabelled line, in a folder of its own
        branch_labels = ("shipping",)
        ''', 'op.create_table("parcels", sa.Column("id", sa.Integer, primary_key=True))', 'op.drop_table("parcels")')
    write_migration(shipping, "0002_shipping_more.py", '''
        revision = "0002_shipping_more"
        down_revision = "0001_shipping_start"
        depends_on = "billing"
        ''', 'op.add_column("parcels", sa.Column("invoice_id", sa.Integer))', drop_column("parcels", "invoice_id"))
    write_migration(billing, "0001_billing_start.py", '''
        revision = "0001_billing_start"
        down_revision = None
        branch_labels = ("billing",)
        ''', 'op.create_table("invoices", sa.Column("id", sa.Integer, primary_key=True))', 'op.drop_table("invoices")')
    compiled = write_migration(billing, "0002_billing_total.py", '''
        revision = "0002_billing_total"
        down_revision = "0001_billing_start"
        ''', 'op.add_column("invoices", sa.Column("total", sa.Numeric(10, 2)))', drop_column("invoices", "total"))
    py_compile.compile(str(compiled), cfile=str(compiled.with_suffix(".pyc")), doraise=True)
    compiled.unlink()
    write_migration(billing, "0003_billing_paid.py", '''
        revision = "0003_billing_paid"
        down_revision = "0002_billing_total"
        depends_on = "0002_core_note"
        ''', 'op.add_column("invoices", sa.Column("paid", sa.Boolean()))', drop_column("invoices", "paid"))


VERSION_FOLDERS = History(
    name="version_folders",
    build=build_version_folders,
    apps={
        "billing": {"0001_billing_start", "0002_billing_total", "0003_billing_paid"},
        "project": {"0001_initial", "0002_core_note"},
        "shipping": {"0001_shipping_start", "0002_shipping_more"},
    },
    targets=[
        (["migrate", "billing", "zero"], ["downgrade", "billing@base"]),
        (["migrate", "shipping"], ["upgrade", "shipping@head"]),
        (["migrate", "heads"], ["upgrade", "heads"]),
        (["migrate", "billing", "0002"], ["downgrade", "0002_billing_total"]),
        (["migrate", "shipping@-1"], ["downgrade", "shipping@-1"]),
        (["migrate", "0001_initial"], ["downgrade", "0001_initial"]),
        # The app's last migration, which billing's 0003 needs: no head of its own.
        (["migrate", "project"], ["upgrade", "0002_core_note"]),
        (["migrate"], ["upgrade", "heads"]),
    ],
    conflict=second_head("billing", "0003_billing_paid", "billing/versions"),
)

HISTORIES = [LABELLED_BRANCHES, VERSION_FOLDERS]
