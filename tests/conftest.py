"""Pin the terminal so rich and Typer print the same plain text here as in CI."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ["TTY_COMPATIBLE"] = "0"
os.environ["_TYPER_FORCE_DISABLE_TERMINAL"] = "1"
os.environ["COLUMNS"] = "160"
for variable in ("FORCE_COLOR", "GITHUB_ACTIONS", "PY_COLORS", "NO_COLOR"):
    os.environ.pop(variable, None)

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def sample_data() -> Path:
    return ROOT / "sample_data"
