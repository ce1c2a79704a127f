"""Random malformed files through the installed ``cecli``, one subprocess each: no traceback,
no hang, exit 0, 2 or 130, one error line, no control characters, and no row lost (see
:mod:`tests.fuzz.malformed`)."""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.fuzz.checks import settle
from tests.fuzz.malformed import (
    LARGE_SHARE,
    FileCase,
    FileRun,
    failures_of,
    file_case,
    run_file_case,
)
from tests.fuzz.profile import PROFILE

WORKERS = 2
"""Subprocesses at a time: most of a run is the interpreter starting, one core each."""

Outcomes = dict[int, tuple[FileCase, FileRun]]


def _case(index: int) -> FileCase:
    return file_case(PROFILE.seed, index, large_share=LARGE_SHARE if PROFILE.name == "long" else 0)


@pytest.fixture(scope="module")
def outcomes(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Outcomes:
    """Every selected case run up front, two at a time; each test then reads its own."""
    selected = [
        item.callspec.params["index"]
        for item in request.session.items
        if isinstance(item, pytest.Function)
        and item.originalname == "test_malformed_file"
        and hasattr(item, "callspec")
    ]
    base = tmp_path_factory.mktemp("fuzz-files")

    def one(index: int) -> tuple[int, tuple[FileCase, FileRun]]:
        case = _case(index)
        folder = base / str(index)
        folder.mkdir()
        run = run_file_case(case, folder)
        shutil.rmtree(folder, ignore_errors=True)
        return index, (case, run)

    with ThreadPoolExecutor(WORKERS) as pool:
        return dict(pool.map(one, selected))


@pytest.fixture(scope="module")
def kept(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where a failing case's file is kept, to rerun it by hand."""
    if PROFILE.keep:
        return Path(PROFILE.keep)
    return tmp_path_factory.getbasetemp() / "fuzz-kept"


@pytest.mark.parametrize("index", range(PROFILE.files), ids=lambda i: f"file-{i}")
def test_malformed_file(index: int, outcomes: Outcomes, kept: Path) -> None:
    case, run = outcomes[index] if index in outcomes else (_case(index), None)
    if run is None:  # not selected up front (a plugin reordered items): run it now
        folder = kept.parent / f"fuzz-file-{index}"
        folder.mkdir(parents=True, exist_ok=True)
        run = run_file_case(case, folder)
    failures = failures_of(case, run)
    reproducer = case.reproducer(kept / f"seed-{PROFILE.seed}-file-{index}") if failures else ""
    settle(failures, reproducer)
