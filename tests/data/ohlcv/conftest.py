from __future__ import annotations

from pathlib import Path

import pytest

from tests.data.ohlcv.helpers import folder, ohlcv, write


@pytest.fixture
def clean(tmp_path: Path) -> Path:
    """The clean series as abc.csv (symbol ABC): what every repaired variant must equal."""
    return write(ohlcv(), folder(tmp_path, "clean") / "abc.csv")
