"""Shared fixtures: the app built by its own factory, a fake LINE API, signed payloads."""
from __future__ import annotations

from pathlib import Path

import pytest

TESTS = Path(__file__).parent
TEST_FLOWS = TESTS / "flows"


@pytest.fixture
def test_flows() -> Path:
    """The small flow the core tests run on."""
    return TEST_FLOWS
