"""Integration test 6: after apply, `terraform plan` of the same root shows no changes."""

from __future__ import annotations

import os

import pytest

from localcloud import deploy as localcloud_deploy

pytestmark = pytest.mark.integration


def test_plan_after_apply_shows_no_changes() -> None:
    assert not localcloud_deploy.plan_has_changes(os.environ["LOCALCLOUD_INSTANCE"]), (
        "terraform plan after apply is not empty: see the plan log under .localcloud/"
    )
