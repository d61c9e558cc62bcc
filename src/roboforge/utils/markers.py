"""Markers: what a picture draws to show a command (a target pose, a commanded velocity), in plain numbers so
the renderer needs neither torch nor the managers."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CommandMarker:
    """Something a video draws to show a command in world `world` (world frame, metres)."""

    kind: str
    """'sphere' (at `start`), 'arrow' (from `start` to `end`) or 'frame' (axes at `start` turned by `quat`)."""
    start: tuple[float, float, float]
    end: tuple[float, float, float] | None = None
    quat: tuple[float, float, float, float] = (1.0, 0.0, 0.0, 0.0)
    """Orientation (w, x, y, z) of a 'frame'."""
    size: float = 0.02
    """Sphere radius, arrow shaft radius, or frame axis length / 5."""
    rgba: tuple[float, float, float, float] = (0.1, 0.8, 0.2, 0.8)
