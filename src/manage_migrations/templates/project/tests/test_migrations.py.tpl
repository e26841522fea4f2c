"""pytest-alembic's built-in tests: one head, an upgrade from empty to head, models that match
what the migrations make, and each migration up, down and up again."""
from pytest_alembic.tests import (  # noqa: F401  collected here as this module's own tests
    test_model_definitions_match_ddl,
    test_single_head_revision,
    test_up_down_consistency,
    test_upgrade,
)
