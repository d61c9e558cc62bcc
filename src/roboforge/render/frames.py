"""Frames of worlds: C MuJoCo's off-screen renderer on one world's state, the command markers drawn in.

Works with either physics backend: the state of the worlds shown is copied to one `MjData` per frame
(a host copy, which is why videos are for play and evaluation, not the training loop). Off-screen OpenGL
comes from EGL (default here) or OSMesa, chosen by `MUJOCO_GL`; on a machine without either, one error
names the packages to install.
"""

from __future__ import annotations

import copy
import math
import os
from dataclasses import dataclass

import mujoco
import numpy as np

from roboforge.utils.errors import UserInputError
from roboforge.utils.markers import CommandMarker

GL_HINT = (
    "install EGL (Debian: apt-get install libegl1 libgl1-mesa-dri) and set MUJOCO_GL=egl, "
    "or OSMesa (apt-get install libosmesa6) and set MUJOCO_GL=osmesa"
)
MAX_WORLDS = 16
"""At most this many worlds tiled in one frame."""
MAX_PIXELS = 1920 * 1080
"""Largest frame (all tiles together)."""


@dataclass(kw_only=True)
class RenderCfg:
    """What a frame shows."""

    width: int = 640
    """Width of one world's tile (pixels)."""
    height: int = 480
    worlds: int = 1
    """Worlds tiled in a grid (0, 1, ... worlds - 1)."""
    distance: float | None = None
    """Camera distance (m) from the tracked body; None: 2.5x the model's extent, capped at 4 m."""
    azimuth: float = 135.0
    elevation: float = -20.0
    markers: bool = True
    """Draw the commands (targets, velocity arrows)."""
    shadows: bool | None = None
    """Lights cast shadows. None: yes, unless OpenGL draws on the CPU (Mesa's llvmpipe on a machine without a
    GPU driver), where the Go1's two shadow-casting lights made a 640x480 frame 5x slower (334 ms against
    68 ms without shadows, 2 cores)."""
    terrain_radius: float = 12.0
    """Height-field tiles whose nearest point is farther than this (m) from the tracked body are not drawn. A
    generated terrain has dozens of tiles, and drawing them all took 2 s a frame on a CPU's OpenGL (Mesa)
    against 0.03 s for the few near the robot."""

    def check(self, num_envs: int) -> None:
        """One-line errors for sizes out of range."""
        if not 1 <= self.worlds <= min(MAX_WORLDS, num_envs):
            raise UserInputError(
                f"--worlds {self.worlds}: give 1 to {min(MAX_WORLDS, num_envs)} (the env has {num_envs})."
            )
        if not 0 < self.terrain_radius < math.inf:
            raise UserInputError(f"render terrain_radius {self.terrain_radius}: give a distance > 0 (m).")
        if self.width < 16 or self.height < 16 or grid_pixels(self) > MAX_PIXELS:
            raise UserInputError(
                f"frame {self.width}x{self.height} with {self.worlds} worlds: tiles of at least 16x16, "
                f"at most {MAX_PIXELS} pixels in all."
            )


def grid_shape(worlds: int) -> tuple[int, int]:
    """(rows, cols) of the tile grid: as square as possible."""
    cols = math.ceil(math.sqrt(worlds))
    return math.ceil(worlds / cols), cols


def grid_pixels(cfg: RenderCfg) -> int:
    rows, cols = grid_shape(cfg.worlds)
    return rows * cols * cfg.width * cfg.height


SHOWN_GROUPS = 3
"""MuJoCo's renderer shows geom groups 0, 1 and 2 by default; models put collision shapes in 3."""
HIDDEN_GROUP = 5
"""A geom group MuJoCo's renderer does not draw by default."""


def drawable(model: mujoco.MjModel) -> mujoco.MjModel:
    """`model`, or a copy in which the bodies that have only hidden geoms are drawn by those: a training scene
    without its meshes (`scene.visual_geoms=False`, as exported for deployment) still shows its robot, by its
    collision shapes."""
    shown = model.geom_group < SHOWN_GROUPS
    body_shown = np.zeros(model.nbody, dtype=bool)
    body_shown[model.geom_bodyid[shown]] = True
    only_hidden = ~shown & ~body_shown[model.geom_bodyid]
    if not only_hidden.any():
        return model
    drawn = copy.copy(model)
    drawn.geom_group[only_hidden] = 0
    return drawn


@dataclass
class TerrainCulling:
    """Draws only the height-field tiles near the tracked body, by their geom groups in the rendered model."""

    geoms: np.ndarray
    """The drawn height-field geoms."""
    groups: np.ndarray
    """Their own geom groups."""
    half_diagonal: np.ndarray
    """Distance (m) from each tile's centre to its corners, in the ground plane."""
    radius: float

    @classmethod
    def of(cls, model: mujoco.MjModel, radius: float) -> TerrainCulling | None:
        """None when the model has too few drawn height fields for culling to matter."""
        hfield = model.geom_type == mujoco.mjtGeom.mjGEOM_HFIELD
        geoms = np.flatnonzero(hfield & (model.geom_group < SHOWN_GROUPS))
        if len(geoms) <= 4:
            return None
        half_extent = model.hfield_size[model.geom_dataid[geoms], :2]  # (radius x, radius y)
        return cls(geoms, model.geom_group[geoms].copy(), np.linalg.norm(half_extent, axis=1), radius)

    def show_near(self, model: mujoco.MjModel, data: mujoco.MjData, lookat: np.ndarray) -> None:
        """Hide the tiles farther than `radius` from `lookat` (after `mj_forward` placed them)."""
        centre_xy = data.geom_xpos[self.geoms, :2]
        gap = np.linalg.norm(centre_xy - lookat[:2], axis=1) - self.half_diagonal
        model.geom_group[self.geoms] = np.where(gap > self.radius, HIDDEN_GROUP, self.groups)


SOFTWARE_RASTERIZERS = ("llvmpipe", "softpipe", "swrast", "swiftshader")
"""Names in GL_RENDERER of OpenGL implementations that draw on the CPU."""


def software_opengl() -> bool:
    """Whether the current OpenGL context draws on the CPU, from its GL_RENDERER string (False when it cannot
    be read)."""
    try:
        from OpenGL import GL

        name = GL.glGetString(GL.GL_RENDERER)
    except Exception:  # PyOpenGL raises its own error types per platform; the answer only picks a default
        return False
    return isinstance(name, bytes) and any(
        s in name.decode(errors="replace").lower() for s in SOFTWARE_RASTERIZERS
    )


class WorldRenderer:
    """Renders worlds of a batch as RGB frames `(H, W, 3) uint8`, the tiles of several worlds in a grid."""

    def __init__(self, model: mujoco.MjModel, cfg: RenderCfg):
        drawn = drawable(model)
        self.terrain = TerrainCulling.of(drawn, cfg.terrain_radius)
        if self.terrain is not None and drawn is model:
            drawn = copy.copy(model)  # culling sets geom groups: the caller's model keeps its own
        model = drawn
        self.model, self.cfg = model, cfg
        # the offscreen buffer must hold a tile
        model.vis.global_.offwidth = max(model.vis.global_.offwidth, cfg.width)
        model.vis.global_.offheight = max(model.vis.global_.offheight, cfg.height)
        try:
            self.renderer = mujoco.Renderer(model, cfg.height, cfg.width)
        except Exception as err:  # no GL context: missing libraries or MUJOCO_GL naming an absent backend
            raise UserInputError(
                f"no off-screen OpenGL for rendering (MUJOCO_GL={os.environ.get('MUJOCO_GL')}: {err}); {GL_HINT}."
            ) from None
        self.shadows = cfg.shadows if cfg.shadows is not None else not software_opengl()
        self.data = mujoco.MjData(model)
        self.camera = mujoco.MjvCamera()
        self.camera.type = mujoco.mjtCamera.mjCAMERA_FREE
        self.camera.azimuth, self.camera.elevation = cfg.azimuth, cfg.elevation
        self.camera.distance = cfg.distance or min(2.5 * float(model.stat.extent), 4.0)

    def frame(self, qpos: np.ndarray, markers: list[list[CommandMarker]] | None = None) -> np.ndarray:
        """One frame of the worlds whose joint positions are the rows of `qpos` `(worlds, nq)`, each with
        its markers."""
        rows, cols = grid_shape(len(qpos))
        h, w = self.cfg.height, self.cfg.width
        image = np.zeros((rows * h, cols * w, 3), dtype=np.uint8)
        for i, q in enumerate(qpos):
            r, c = divmod(i, cols)
            image[r * h : (r + 1) * h, c * w : (c + 1) * w] = self.tile(q, markers[i] if markers else [])
        return image

    def tile(self, qpos: np.ndarray, markers: list[CommandMarker]) -> np.ndarray:
        """One world's picture, the camera following its first body's subtree."""
        self.data.qpos[:] = qpos
        mujoco.mj_forward(self.model, self.data)
        body = 1 if self.model.nbody > 1 else 0
        self.camera.lookat[:] = self.data.subtree_com[body]
        if self.terrain is not None:
            self.terrain.show_near(self.model, self.data, self.camera.lookat)
        self.renderer.update_scene(self.data, camera=self.camera)
        if not self.shadows:
            scene = self.renderer.scene
            for light in scene.lights[: scene.nlight]:
                light.castshadow = False
        for marker in markers:
            add_marker(self.renderer.scene, marker)
        return self.renderer.render()

    def close(self) -> None:
        self.renderer.close()


def add_marker(scene: mujoco.MjvScene, marker: CommandMarker) -> None:
    """Append `marker` to `scene` as decoration geoms (skipped when the scene is full)."""
    if marker.kind == "frame":
        rot = np.zeros(9)
        mujoco.mju_quat2Mat(rot, np.asarray(marker.quat, dtype=np.float64))
        axes = rot.reshape(3, 3).T  # rows: the frame's x, y, z axes in the world
        start = np.asarray(marker.start)
        for axis, rgb in zip(axes, ((0.9, 0.1, 0.1), (0.1, 0.9, 0.1), (0.1, 0.2, 0.9)), strict=True):
            end = start + axis * marker.size * 5
            _add_connector(scene, mujoco.mjtGeom.mjGEOM_CAPSULE, start, end, marker.size / 2, (*rgb, 1.0))
    elif marker.kind == "arrow" and marker.end is not None:
        _add_connector(scene, mujoco.mjtGeom.mjGEOM_ARROW, np.asarray(marker.start), np.asarray(marker.end),
                       marker.size, marker.rgba)  # fmt: skip
    elif marker.kind == "sphere":
        geom = _next_geom(scene)
        if geom is not None:
            size = np.array([marker.size, 0.0, 0.0])
            mujoco.mjv_initGeom(geom, mujoco.mjtGeom.mjGEOM_SPHERE, size, np.asarray(marker.start, dtype=np.float64),
                                np.eye(3).reshape(-1), np.asarray(marker.rgba, dtype=np.float32))  # fmt: skip


def _add_connector(scene, kind, start: np.ndarray, end: np.ndarray, width: float, rgba) -> None:
    geom = _next_geom(scene)
    if geom is None or np.linalg.norm(end - start) < 1e-6:
        return
    mujoco.mjv_initGeom(
        geom, kind, np.zeros(3), np.zeros(3), np.eye(3).reshape(-1), np.asarray(rgba, dtype=np.float32)
    )
    mujoco.mjv_connector(geom, kind, width, start.astype(np.float64), end.astype(np.float64))


def _next_geom(scene: mujoco.MjvScene):
    """The next free decoration geom of `scene` (counted), or None when the scene is full."""
    if scene.ngeom >= scene.maxgeom:
        return None
    scene.ngeom += 1
    return scene.geoms[scene.ngeom - 1]
