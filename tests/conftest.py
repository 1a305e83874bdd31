from __future__ import annotations

import pytest

from tests.services import HAS_POSTGRES


@pytest.fixture
def on_postgres() -> bool:
    return HAS_POSTGRES
