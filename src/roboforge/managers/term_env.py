"""`TermEnv`: the env as terms see it, i.e. everything a term (function or class, action or command term)
may read from and call on the env. `ManagerBasedRLEnv` implements it; unit tests pass small fakes.

The managers are built in this order, and a class term's `__init__` may use only those built before its
own: events, commands, actions, terminations, rewards, curriculum, observations. At call time all exist.
Terms see the managers through the narrow views below (what terms use of them), not the classes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

import torch

if TYPE_CHECKING:
    from roboforge.scene.scene import Scene
    from roboforge.sim.simulator import Simulator


class ActionView(Protocol):
    """The action manager as terms see it."""

    @property
    def action(self) -> torch.Tensor:
        """This step's action `(num_envs, total_dim)`."""
        ...

    @property
    def prev_action(self) -> torch.Tensor:
        """The previous step's action `(num_envs, total_dim)`."""
        ...

    @property
    def terms(self) -> Mapping[str, Any]:
        """Action terms by name."""
        ...


class CommandView(Protocol):
    """The command manager as terms see it."""

    def get_command(self, name: str) -> torch.Tensor:
        """The command of term `name`, `(num_envs, dim)`."""
        ...

    @property
    def terms(self) -> Mapping[str, Any]:
        """Command terms by name (terms that read a command term's own state, e.g. navigation outcomes)."""
        ...


class RewardView(Protocol):
    """The reward manager as terms see it: the device weights a curriculum may change in place."""

    @property
    def weights(self) -> torch.Tensor:
        """Current weight per term `(num_terms,)`."""
        ...

    @property
    def initial_weights(self) -> torch.Tensor:
        """Configured weight per term `(num_terms,)`."""
        ...

    def weight_index(self, name: str) -> int:
        """Position of term `name` in `weights`."""
        ...


class TerminationView(Protocol):
    """The termination manager as terms see it."""

    @property
    def terminated(self) -> torch.Tensor:
        """Worlds ended by a failure term this step `(num_envs,)` bool."""
        ...

    @property
    def time_outs(self) -> torch.Tensor:
        """Worlds ended by a time-out term this step `(num_envs,)` bool."""
        ...


class TermEnv(Protocol):
    """What terms read: sizes, device and random numbers, scene and simulator, episode clocks, managers.

    Terms write only through these objects (entity state, model fields, manager weights), in place and
    with `torch.where` on the worlds they are given.
    """

    @property
    def num_envs(self) -> int:
        """Number of parallel worlds."""
        ...

    @property
    def device(self) -> torch.device:
        """Device of every tensor."""
        ...

    @property
    def rng(self) -> torch.Generator | None:
        """Seeded generator for every random draw (None on CUDA: the seeded default generator)."""
        ...

    @property
    def scene(self) -> Scene:
        """Entities by name (`scene["robot"]`), `sensors`, `terrain`, `env_origins`."""
        ...

    @property
    def sim(self) -> Simulator:
        """Simulator state views (`qpos`, `qvel`, `ctrl` ...) and per-world model fields."""
        ...

    @property
    def physics_dt(self) -> float:
        """Seconds per physics step."""
        ...

    @property
    def step_dt(self) -> float:
        """Seconds per env step (physics_dt x decimation)."""
        ...

    @property
    def max_episode_length(self) -> int:
        """Env steps per episode."""
        ...

    @property
    def max_episode_length_s(self) -> float:
        """Seconds per episode."""
        ...

    @property
    def episode_length_buf(self) -> torch.Tensor:
        """Env steps since each world's last reset `(num_envs,)` long."""
        ...

    @property
    def exploded_buf(self) -> torch.Tensor:
        """Worlds the NaN guard reset in the last env step `(num_envs,)` bool."""
        ...

    @property
    def step_count(self) -> torch.Tensor:
        """Env steps since the env was built, a device scalar (graph-safe schedules read it)."""
        ...

    @property
    def action_manager(self) -> ActionView:
        """Current and previous actions, action terms."""
        ...

    @property
    def command_manager(self) -> CommandView:
        """Commands by name (`get_command(name)`)."""
        ...

    @property
    def reward_manager(self) -> RewardView:
        """Reward weights (a curriculum changes them in place)."""
        ...

    @property
    def termination_manager(self) -> TerminationView:
        """This step's `terminated` and `time_outs` flags."""
        ...
