"""Fixtures of the chart tests: the helm binary (built once if missing)."""

from __future__ import annotations

import pytest
from tests.unit.chart.chart_helpers import helm_binary


@pytest.fixture(scope="session")
def helm() -> str:
    """Path of the cached helm binary (hack/build-binaries.sh helm builds it the first time)."""
    return helm_binary()
