"""What both env kinds share: scene + simulator, RNG, episode counters, the NaN guard, episode stats."""

from __future__ import annotations

import math
import os

import gymnasium as gym
import torch

from roboforge.envs.env_cfg import BaseEnvCfg
from roboforge.envs.graph_step import make_stepper
from roboforge.scene.scene import Scene
from roboforge.sim.factory import make_simulator
from roboforge.utils.config import ConfigError

MAX_EPISODE_LENGTH = 2**31 - 1
"""Most env steps in an episode (the time-out is compared with int64 step counters, and longer is no time-out)."""
MAX_SIM_THREADS = 1024
"""Most C MuJoCo threads (`env.sim.num_threads`), as the job service allows."""
SIM_COUNTS = {
    "iterations": "constraint solver iterations",
    "ls_iterations": "line-search iterations",
    "nconmax": "MuJoCo Warp's contacts per world",
    "njmax": "MuJoCo Warp's constraint rows per world",
}
"""Counts of `SimCfg` that must be at least 1 when set."""


def check_env_cfg(cfg: BaseEnvCfg) -> None:
    """Raise ConfigError, naming the field, for a step count or duration that cannot run."""
    if cfg.decimation < 1:
        raise ConfigError(f"env.decimation must be >= 1, got {cfg.decimation}.")
    if not cfg.episode_length_s > 0:
        raise ConfigError(f"env.episode_length_s must be > 0 (seconds), got {cfg.episode_length_s}.")
    if cfg.sim.timestep is not None and not cfg.sim.timestep > 0:
        raise ConfigError(f"env.sim.timestep must be > 0 (seconds), got {cfg.sim.timestep}.")
    for name, meaning in SIM_COUNTS.items():
        value = getattr(cfg.sim, name)
        if value is not None and value < 1:  # njmax=-1 was MuJoCo Warp's ValueError, iterations=-3 ran on
            raise ConfigError(
                f"env.sim.{name} must be >= 1 ({meaning}; leave it out for the default), got {value}."
            )
    threads = cfg.sim.num_threads
    if threads is not None and not 1 <= threads <= MAX_SIM_THREADS:  # 10**5 started a thread per world
        raise ConfigError(
            f"env.sim.num_threads must be 1 to {MAX_SIM_THREADS} (C MuJoCo's threads; this machine has "
            f"{os.cpu_count()} cores), got {threads}."
        )
    if not cfg.max_joint_vel > 0:  # the NaN guard's threshold: at or below 0 every world counts as exploded
        raise ConfigError(f"env.max_joint_vel must be > 0 (rad/s or m/s), got {cfg.max_joint_vel}.")


class BaseRLEnv(gym.Env):
    """Batched env base: owns the scene and simulator; subclasses define step/reset logic."""

    is_vector_env = True
    metadata = {"render_modes": [None]}

    def __init__(self, cfg: BaseEnvCfg, per_world_fields: tuple[str, ...] = ()):
        check_env_cfg(cfg)
        self.cfg = cfg
        self.device = torch.device(cfg.sim.device)
        torch.manual_seed(cfg.seed)
        # CPU: one seeded generator per env. CUDA: the seeded default generator, which CUDA graphs capture.
        self.rng = torch.Generator().manual_seed(cfg.seed) if self.device.type == "cpu" else None
        self.scene = Scene(cfg.scene)
        self.sim = make_simulator(self.scene.model, cfg.scene.num_envs, cfg.sim, per_world_fields)
        self.scene.bind(self.sim)
        self.num_envs = cfg.scene.num_envs
        self.physics_dt = self.sim.timestep
        self.step_dt = self.physics_dt * cfg.decimation
        self.max_episode_length_s = cfg.episode_length_s
        if self.step_dt > cfg.episode_length_s:  # a decimation of 10**9 ran for hours inside one step
            raise ConfigError(
                f"env.decimation {cfg.decimation} x timestep {self.physics_dt:g} s = {self.step_dt:g} s per env step "
                f"is longer than the episode (env.episode_length_s {cfg.episode_length_s:g}); give at most "
                f"{int(cfg.episode_length_s / self.physics_dt)}."
            )
        if cfg.episode_length_s / self.step_dt > MAX_EPISODE_LENGTH:
            raise ConfigError(
                f"env.episode_length_s {cfg.episode_length_s:g} is more than {MAX_EPISODE_LENGTH} env steps of "
                f"{self.step_dt:g} s; give at most {MAX_EPISODE_LENGTH * self.step_dt:.4g} seconds."
            )
        self.max_episode_length = math.ceil(cfg.episode_length_s / self.step_dt)
        self.episode_length_buf = torch.zeros(self.num_envs, dtype=torch.long, device=self.device)
        self.reset_buf = torch.zeros(self.num_envs, dtype=torch.bool, device=self.device)
        # worlds the NaN guard reset in the last step: a simulator failure, not the policy's, so neither
        # fall-free statistics nor the terrain curriculum count their episodes
        self.exploded_buf = torch.zeros(self.num_envs, dtype=torch.bool, device=self.device)
        self.all_worlds = torch.ones(self.num_envs, dtype=torch.bool, device=self.device)
        self._stat_sum: dict[str, torch.Tensor] = {}
        self._stat_count: dict[str, torch.Tensor] = {}
        self.nan_resets = torch.zeros((), dtype=torch.long, device=self.device)
        self.sim_overflows = torch.zeros((), dtype=torch.long, device=self.device)
        self.common_step_counter = 0
        # The same count on the device, so terms inside the CUDA graph can read it (schedules).
        self.step_count = torch.zeros((), dtype=torch.long, device=self.device)
        self._stepper = None
        self._qpos0 = torch.as_tensor(self.scene.model.qpos0, device=self.device, dtype=self.sim.qpos.dtype)

    # --- spaces of one world (Isaac Lab's vectorised env interface, read by skrl's "isaaclab" wrapper) ------
    @property
    def single_observation_space(self) -> gym.spaces.Dict:
        """One world's observation: a Box `(dim,)` per group ('policy', and 'critic' when the task has one)."""
        inf = float("inf")
        return gym.spaces.Dict({g: gym.spaces.Box(-inf, inf, (d,)) for g, d in self.obs_dims.items()})  # type: ignore[attr-defined]

    @property
    def single_action_space(self) -> gym.spaces.Box:
        """One world's action `(num_actions,)`, unbounded (the action terms scale and clip)."""
        return gym.spaces.Box(-float("inf"), float("inf"), (self.num_actions,))  # type: ignore[attr-defined]

    # --- state a resumed run continues from (besides the policy) ----------------------------------
    def training_state(self) -> dict:
        """The env steps taken (schedules such as reward-weight curricula read them) and the terrain
        curriculum's per-world levels; `load_training_state` restores them."""
        assert self.scene.terrain is not None  # created when the scene binds to the simulator
        return {"step_count": self.common_step_counter, "terrain": self.scene.terrain.state_dict()}

    def load_training_state(self, state: dict) -> None:
        """Restore `training_state()` of a run of this task, then reset every world onto its restored
        terrain patch. Raises ValueError when the terrain part does not fit this env."""
        assert self.scene.terrain is not None  # created when the scene binds to the simulator
        self.scene.terrain.load_state_dict(state["terrain"])
        self.common_step_counter = int(state["step_count"])
        self.step_count.fill_(self.common_step_counter)
        self.reset()

    # --- physics ---------------------------------------------------------------------------------
    def _physics_substep(self) -> None:
        """Actuators -> one physics step (the caller applies action terms first)."""
        self.scene.apply_actuators()
        self.sim.step()

    def _guard_exploded(self) -> torch.Tensor:
        """Worlds `(num_envs,)` whose state is non-finite or too fast; their state is replaced by defaults.
        Also counts worlds whose contact/constraint buffers overflowed in this env step (`sim_overflows`)."""
        qpos, qvel = self.sim.qpos, self.sim.qvel
        bad = (
            ~torch.isfinite(qpos).all(1)
            | ~torch.isfinite(qvel).all(1)
            | (qvel.abs() > self.cfg.max_joint_vel).any(1)
        )
        qpos[:] = torch.where(bad[:, None], self._qpos0, qpos)
        qvel.masked_fill_(bad[:, None], 0.0)
        self.sim.sensordata.masked_fill_(bad[:, None], 0.0)
        self.exploded_buf[:] = bad
        self.nan_resets += bad.sum()
        self.sim_overflows += self.sim.pop_buffer_overflows().sum()
        return bad

    def _reset_physics(self, mask: torch.Tensor) -> None:
        """Default model state, then every entity's default root/joint state, in the selected worlds."""
        self.sim.reset(mask)
        self.scene.reset_to_default(mask, self.rng)
        self.scene.reset_sensors(mask)

    # --- episode statistics (device-side sums, read once per training iteration) ------------------
    def _accumulate(self, log: dict[str, tuple[torch.Tensor, torch.Tensor]]) -> None:
        """Add (sum, count) pairs in place (the buffers must stay put for CUDA-graph replay)."""
        for key, (total, count) in log.items():
            if key not in self._stat_sum:
                with torch.inference_mode(False):  # normal tensors: zeroed later outside inference mode
                    self._stat_sum[key] = torch.zeros((), device=self.device)
                    self._stat_count[key] = torch.zeros((), device=self.device)
            self._stat_sum[key] += total
            self._stat_count[key] += count

    def pop_episode_stats(self) -> dict[str, float]:
        """Means of the logged episode statistics, exploded-world resets and buffer-overflow world-steps since the
        last call (host sync)."""
        stats = {}
        for key, total in self._stat_sum.items():
            count = float(self._stat_count[key])
            if count > 0:
                stats[key] = float(total) / count
            total.zero_()
            self._stat_count[key].zero_()
        stats["nan_resets"] = float(self.nan_resets)
        stats["sim_overflows"] = float(self.sim_overflows)
        self.nan_resets.zero_()
        self.sim_overflows.zero_()
        return stats

    def step(self, action: torch.Tensor):
        """Advance one env step (replayed from a CUDA graph on GPU); returns (obs by group, reward, terminated,
        time_outs, extras), each `(num_envs, ...)`: tensors the caller owns (kept past the next step)."""
        self.common_step_counter += 1
        if self._stepper is None:
            self._stepper = make_stepper(self._step_impl, self.device, self.cfg.sim.cuda_graph)
        return self._stepper(action)

    def episode_stat_names(self) -> list[str]:
        """The names `pop_episode_stats` reports once episodes end (reward terms, terminations, task metrics,
        curriculum state). Resets every world to collect them: the env starts over."""
        self._reset(self.all_worlds, log=True)
        self.obs_buf = self._observe()
        logged = set(
            self._stat_sum
        )  # every statistic the env accumulates, even one no episode has reached yet
        return sorted(logged | set(self.pop_episode_stats()))

    def step_uncaptured(self, action: torch.Tensor):
        """One env step without the env's own CUDA graph and without output copies, for a caller that captures
        a larger graph around it (the rsl_rl rollout step): the outputs are the env's buffers, overwritten by
        the next step. The caller counts `common_step_counter` (a host counter a replay cannot advance)."""
        return self._step_impl(action)

    def reset(
        self, *, seed: int | None = None, options: dict | None = None
    ) -> tuple[dict[str, torch.Tensor], dict]:
        """Reset every world; returns (observations by group, extras)."""
        if seed is not None:
            self.seed(seed)
        self._reset(self.all_worlds, log=False)
        self.obs_buf = self._observe()
        return self.obs_buf, {}

    def _reset(self, mask: torch.Tensor, log: bool = True) -> None:
        raise NotImplementedError

    def _observe(self) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def _step_impl(self, action: torch.Tensor):
        raise NotImplementedError

    def seed(self, seed: int) -> None:
        """Re-seed the env's random numbers (events, noise, commands)."""
        if self.rng is None:
            torch.cuda.manual_seed(seed)
        else:
            self.rng.manual_seed(seed)

    def close(self) -> None:
        """Nothing to release explicitly: simulator memory is freed with the env."""
