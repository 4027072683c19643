"""The hostile-input suite's fixture: see tests/helpers/hostile.py."""

import pytest

from helpers.hostile import make_runner


@pytest.fixture
def hostile(warehouse, replay_into, monkeypatch, enforced):
    """``hostile(source, write_good, case, changed_tables=())``: runs the case, asserts the three things."""
    return make_runner(warehouse, replay_into, monkeypatch)
