"""Deformable objects on MuJoCo flex bodies: a soft cube made by MJCF `<flexcomp>` (`DeformableObjectCfg`).

A `flexcomp` of type grid, `dim=3`, is a 3D finite-element body. With `dof="trilinear"` MuJoCo moves it
by the 8 corner nodes of one trilinear cell, each a body with three slide joints, and interpolates the
`count^3` collision vertices from them (cheap: 24 degrees of freedom whatever the resolution); with
`dof="full"` every vertex is such a node (the default; with `count=2` both are the same 8 nodes). MuJoCo
Warp 4.0.0 mishandles contacts of an interpolated (trilinear) flex with a moving body's geoms: squeezed
between the Panda's fingers the cube slips out when lifted, where C MuJoCo lifts it (and where `full` lifts
it on both), so MuJoCo Warp refuses trilinear flexes (`sim/factory.py`). Elasticity is linear (Young's
modulus, Poisson's ratio) with Rayleigh damping; the compiled `flex_stiffness` is proportional to Young's
modulus, which is how stiffness is randomized per world (mdp/deformable.py). MuJoCo 4 integrates flex
elasticity only with the `discrete` integrator (or explicit Euler with a small step), so a scene with a
deformable object uses it.

Sources: MuJoCo documentation, XML reference `flexcomp` and its `elasticity`/`contact` children, and
the "Deformable objects" section of the modeling guide (mujoco.readthedocs.io).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import mujoco

from roboforge.assets.init_state import InitialStateCfg
from roboforge.assets.sources import BuiltinSpawnCfg
from roboforge.utils.config import ConfigError

FLEX_NAME = "soft"
"""Name of the flex (and prefix of its node bodies, 'soft_0_0_0' ...) inside the entity."""


@dataclass(kw_only=True)
class DeformableObjectCfg:
    """A soft cube (MuJoCo flex, `flexcomp` grid, `dim=3`) with a default pose; its state is its nodes."""

    size: float = 0.05
    """Edge length (m) of the undeformed cube."""
    count: int = 2
    """Vertices per edge (>= 2): the collision surface's resolution (and the nodes' with `dof='full'`)."""
    mass: float = 0.1
    """Total mass (kg), spread over the nodes."""
    young: float = 1.0e5
    """Young's modulus (Pa): 1e5 is foam. Below ~7.5e4 the 8-node cube (`count=2`, `full`) can collapse in a
    grasp and stay collapsed (measured in tasks/lift/soft_lift_env_cfg.py)."""
    poisson: float = 0.3
    """Poisson's ratio, in [0, 0.5)."""
    damping: float = 2.0e-3
    """Rayleigh damping coefficient (s) of the elastic forces."""
    friction: float = 1.0
    """Sliding friction of the surface."""
    dof: Literal["trilinear", "full"] = "full"
    """'full': every vertex is a node (count^3 bodies); 'trilinear': 8 corner nodes drive the whole cube
    (C MuJoCo only: see the module docstring)."""
    rgba: tuple[float, float, float, float] = (0.95, 0.55, 0.2, 1.0)
    """Colour."""
    init_state: InitialStateCfg = field(default_factory=InitialStateCfg)
    """Default pose: `pos` is the centre of the undeformed, axis-aligned cube (`rot` must stay the identity;
    velocities and joint values are ignored: the object rests at reset)."""

    @property
    def spawn(self) -> BuiltinSpawnCfg:
        """The model source, as for other entities: the cube's MJCF, centred at `init_state.pos`."""
        return BuiltinSpawnCfg(builder=lambda: soft_cube_spec(self))


def soft_cube_spec(cfg: DeformableObjectCfg) -> mujoco.MjSpec:
    """The MjSpec of one soft cube (flex 'soft', node bodies 'soft_<i>_<j>_<k>') at `init_state.pos`.

    The flexcomp itself is placed there and the scene attaches the object without a frame: MuJoCo 4.0.0
    computes the elastic stiffness from vertex coordinates that an attachment frame does not move (a frame
    at 0.2 m scaled `flex_stiffness` by 1e-6), and a rotated trilinear cell changes it too.
    """
    _check(cfg)
    pos = " ".join(str(float(x)) for x in cfg.init_state.pos)
    spacing = cfg.size / (cfg.count - 1)
    radius = min(1.0e-3, spacing / 10)  # collision thickness of elements and vertices
    xml = f"""
<mujoco model="soft_cube">
  <worldbody>
    <flexcomp name="{FLEX_NAME}" type="grid" dim="3" count="{cfg.count} {cfg.count} {cfg.count}"
        spacing="{spacing} {spacing} {spacing}" pos="{pos}" mass="{cfg.mass}" dof="{cfg.dof}" radius="{radius}"
        rgba="{" ".join(str(c) for c in cfg.rgba)}">
      <elasticity young="{cfg.young}" poisson="{cfg.poisson}" damping="{cfg.damping}"/>
      <contact selfcollide="none" condim="3" friction="{cfg.friction} 0.005 0.0001"/>
    </flexcomp>
  </worldbody>
</mujoco>"""
    try:
        return mujoco.MjSpec.from_string(xml)
    except ValueError as err:
        raise ConfigError(f"The soft cube does not load in MuJoCo: {err}") from err


MAX_COUNT = 12
"""Most vertices per edge of a soft cube: 1728 vertices in each world (with 'full', as many bodies)."""


def _check(cfg: DeformableObjectCfg) -> None:
    problems = [
        (cfg.size > 0, f"size must be > 0 m, got {cfg.size}"),
        (
            2 <= cfg.count <= MAX_COUNT,
            f"count must be 2 to {MAX_COUNT} vertices per edge (count^3 vertices per world), got {cfg.count}",
        ),
        (cfg.mass > 0, f"mass must be > 0 kg, got {cfg.mass}"),
        (cfg.young > 0, f"young must be > 0 Pa, got {cfg.young}"),
        (0 <= cfg.poisson < 0.5, f"poisson must be in [0, 0.5), got {cfg.poisson}"),
        (cfg.damping >= 0, f"damping must be >= 0, got {cfg.damping}"),
        (cfg.dof in ("trilinear", "full"), f"dof must be 'trilinear' or 'full', got {cfg.dof!r}"),
        (
            tuple(cfg.init_state.rot) == (1.0, 0.0, 0.0, 0.0),
            f"init_state.rot must be (1, 0, 0, 0): the rest shape is axis-aligned, got {cfg.init_state.rot}",
        ),
    ]
    for ok, message in problems:
        if not ok:
            raise ConfigError(f"DeformableObjectCfg: {message}.")
