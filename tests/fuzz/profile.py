"""How much to fuzz, and with which seed: read once from the environment.

``CECLI_FUZZ=long`` asks for the long profile; ``CECLI_FUZZ_SEED`` fixes the seed (the fast
profile uses seed 0 unless told, so CI sees the same cases on every run; the long profile
draws a fresh seed and prints it).  ``CECLI_FUZZ_ARGUMENTS`` and ``CECLI_FUZZ_FILES`` override
the number of cases, and ``CECLI_FUZZ_KEEP`` names the folder where failing files are kept.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    name: str
    seed: int
    arguments: int
    files: int
    keep: str | None

    def header(self) -> str:
        return (
            f"cecli fuzz: profile {self.name}, seed {self.seed} (CECLI_FUZZ_SEED), "
            f"{self.arguments} argument lists, {self.files} files"
        )


def _count(variable: str, default: int) -> int:
    text = os.environ.get(variable, "").strip()
    return int(text) if text else default


def current() -> Profile:
    name = os.environ.get("CECLI_FUZZ", "").strip().lower() or "fast"
    if name not in ("fast", "long"):
        raise ValueError(f"CECLI_FUZZ must be 'fast' or 'long', not {name!r}")
    long = name == "long"
    seed_text = os.environ.get("CECLI_FUZZ_SEED", "").strip()
    seed = int(seed_text) if seed_text else (secrets.randbelow(10**9) if long else 0)
    return Profile(
        name=name,
        seed=seed,
        arguments=_count("CECLI_FUZZ_ARGUMENTS", 20_000 if long else 300),
        files=_count("CECLI_FUZZ_FILES", 2_000 if long else 60),
        keep=os.environ.get("CECLI_FUZZ_KEEP") or None,
    )


PROFILE = current()
