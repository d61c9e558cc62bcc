"""Test setup: kernel cache inside the checkout, offline Menagerie models, small shared fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("WARP_CACHE_PATH", str(ROOT / ".cache" / "warp"))
for candidate in (ROOT.parent / "shared" / "menagerie", Path("/work/shared/menagerie")):
    if "MENAGERIE_ROOT" not in os.environ and candidate.is_dir():
        os.environ["MENAGERIE_ROOT"] = str(candidate)


def menagerie_has(robot: str) -> bool:
    """True if `robot` is in the offline Menagerie folder."""
    root = os.environ.get("MENAGERIE_ROOT")
    return bool(root) and (Path(root) / robot).is_dir()


requires_go1 = pytest.mark.skipif(not menagerie_has("unitree_go1"), reason="MENAGERIE_ROOT with unitree_go1 not found")
