"""Integration test 6: after apply, `terraform plan` of the same root shows no changes."""

from __future__ import annotations

import localcloud_deploy
import pytest
from conftest import INSTANCE

pytestmark = pytest.mark.integration


def test_plan_after_apply_shows_no_changes() -> None:
    assert not localcloud_deploy.plan_has_changes(INSTANCE), (
        "terraform plan after apply is not empty: see the plan log under .localcloud/"
    )
