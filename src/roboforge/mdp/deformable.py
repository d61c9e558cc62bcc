"""Terms for deformable objects (scene/deformable.py): stiffness randomization and shape observations.

MuJoCo compiles a flex's linear elasticity into `flex_stiffness`, proportional to Young's modulus at a
fixed Poisson's ratio, and its Rayleigh damping into `flex_damping`; scaling them per world is the same
as drawing Young's modulus and damping per world. Only the C backend has these fields per world (MuJoCo
Warp 4.0.0 shares flex fields between worlds; asking for it there is one error, sim/factory.py).
"""

from __future__ import annotations

import torch

from roboforge.managers.event_manager import writes_model_fields
from roboforge.managers.term import ManagerTermBase, TermCfg
from roboforge.managers.term_env import TermEnv
from roboforge.mdp.events import ModelFieldEntries
from roboforge.scene.deformable import DeformableObject
from roboforge.utils.config import ConfigError
from roboforge.utils.math import sample_uniform


def deformable_object(env: TermEnv, asset_name: str) -> DeformableObject:
    """The scene's deformable object `asset_name`; another kind of entity raises with the fix."""
    obj = env.scene[asset_name]
    if not isinstance(obj, DeformableObject):
        raise ConfigError(f"Entity {asset_name!r} is not a deformable object (DeformableObjectCfg).")
    return obj


def stiffness_rows(env: TermEnv, obj: DeformableObject) -> torch.Tensor:
    """Indices of the object's entries in `flex_stiffness` (its element stiffness matrices)."""
    model = env.sim.model
    start = int(model.flex_stiffnessadr[obj.flex_id])
    if start < 0:
        raise ConfigError(f"Entity {obj.name!r} has no elastic stiffness to randomize (a rigid flex).")
    later = [int(a) for a in model.flex_stiffnessadr if int(a) > start]
    end = min(later) if later else len(model.flex_stiffness)
    return torch.arange(start, end, device=env.device)


@writes_model_fields("flex_stiffness", "flex_damping")
class randomize_deformable_stiffness(ManagerTermBase):
    """Young's modulus and damping of a deformable object = nominal x one uniform draw per world
    (`young_scale`, `damping_scale`); C backend only (see module docstring)."""

    def __init__(self, cfg: TermCfg, env: TermEnv):
        super().__init__(cfg, env)
        obj = deformable_object(env, self.params["asset_name"])
        self.stiffness = ModelFieldEntries(env, "flex_stiffness", stiffness_rows(env, obj))
        flex = torch.tensor([obj.flex_id], device=env.device)
        self.damping = ModelFieldEntries(env, "flex_damping", flex)
        for key in ("young_scale", "damping_scale"):
            lo, hi = self.params[key]
            if not 0 < lo <= hi:
                raise ConfigError(
                    f"randomize_deformable_stiffness: {key} must be 0 < low <= high, got {(lo, hi)}."
                )

    def __call__(
        self,
        env: TermEnv,
        env_mask: torch.Tensor,
        young_scale: tuple[float, float] = (0.5, 2.0),
        damping_scale: tuple[float, float] = (1.0, 1.0),
        asset_name: str = "cube",
    ) -> None:
        n = env.num_envs
        young = sample_uniform(*young_scale, (n, 1), env.device, env.rng)
        self.stiffness.write(env, env_mask, young.expand(n, self.stiffness.rows.numel()), "scale")
        damping = sample_uniform(*damping_scale, (n, 1), env.device, env.rng)
        self.damping.write(env, env_mask, damping, "scale")


def node_pos_rel(env: TermEnv, asset_name: str = "cube") -> torch.Tensor:
    """Node positions relative to the centre of mass `(num_envs, num_nodes * 3)`, world axes: the shape."""
    data = deformable_object(env, asset_name).data
    return (data.node_pos_w - data.com_pos_w[:, None]).flatten(1)
