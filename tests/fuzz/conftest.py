"""The fuzz profile and seed, shown in pytest's header so that a CI log says how to rerun."""

from __future__ import annotations

from tests.fuzz.profile import PROFILE


def pytest_report_header() -> str:
    return PROFILE.header()
