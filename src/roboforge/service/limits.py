"""What one request may ask of the job service: body size, override payload, sizes and rates, queue.

Every override that sets a size or a rate has a `Bound` here (the same limits as the top-level
fields: `env.scene.num_envs` like `num_envs`, `agent.max_iterations` like `num_iterations`), the agent's
per RL library (`AGENT_BOUNDS`: each library's config names its fields its own way); any other integer,
anywhere in an override value, is capped by `MAX_INT`. Products of fields that size one allocation
(rollout storage, constraint rows, terrain samples) are checked after the overrides are applied
(`check_resolved`; replay buffers and network definitions of the other libraries in agent_limits.py).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from typing import Any

from roboforge.service.config import MAX_ITERATIONS, MAX_NUM_ENVS
from roboforge.utils.overrides import Bound, OverrideError, find_bound

MAX_BODY_BYTES = 64 * 1024
"""Largest request body (413 above)."""
MAX_OVERRIDES = 64
"""Most override keys in one request."""
MAX_KEY_CHARS = 128
"""Longest override key."""
MAX_VALUE_CHARS = 1024
"""Longest override value, as JSON."""
MAX_OVERRIDES_CHARS = 8192
"""Longest override payload as a whole, as JSON (it becomes the job's command line)."""
MAX_DEPTH = 4
"""Deepest nesting of lists and objects in one override value."""
MAX_INT = 1_000_000
"""Largest magnitude of any integer in an override that has no bound of its own."""
MAX_SWEEP_TRIALS = 100
"""Most trials of one sweep (POST /sweeps)."""
MAX_SWEEP_PARALLEL = 16
"""Most trials of one sweep that train at the same time."""
MAX_SWEEP_PARAMS = 16
"""Most swept fields of one sweep."""
MAX_PARAM_CHARS = 512
"""Longest swept field as `PATH=DISTRIBUTION` text."""
MAX_JSON_DEPTH = 32
"""Deepest nesting of a request body."""
MAX_ROLLOUT = 1 << 22
"""Largest num_envs x env steps per iteration (transitions stored per iteration; `agent.num_steps_per_env`,
skrl's `agent.agent.rollouts`, rl_games' `agent.params.config.horizon_length`, sb3's `agent.n_steps`)."""
MAX_REPLAY = 1 << 26
"""Most transitions an off-policy replay buffer holds (skrl: num_envs x `memory.memory_size`; sb3:
`buffer_size`)."""
MAX_LAYERS = 8
"""Most hidden layers of one network."""
MAX_LAYER_UNITS = 4096
"""Most units of one hidden layer."""
MAX_CONSTRAINT_ROWS = 1 << 26
"""Largest num_envs x env.sim.njmax (and x nconmax): MuJoCo Warp allocates them up front."""
MAX_TERRAIN_SAMPLES = 1 << 24
"""Largest number of height samples of a generated terrain."""
MAX_SCAN_POINTS = 4096
"""Most rays of one grid scan observation (`params.size` / `params.resolution`, e.g. the height scan)."""

MAX_VIDEO_CLIPS = 100
"""Most training clips one job may ask for (`num_iterations / video_interval`; each is rendered on the
job's CPU and kept in its folder)."""

SEED = Bound(0, 2**31 - 1)
ENV_BOUNDS: dict[str, Bound] = {
    "env.scene.num_envs": Bound(1, MAX_NUM_ENVS),
    "env.scene.env_spacing": Bound(0, 1000),
    "env.episode_length_s": Bound(1e-3, 3600),
    "env.decimation": Bound(1, 100),
    "env.seed": SEED,
    "env.max_joint_vel": Bound(1e-3, 1e6),
    "env.sim.timestep": Bound(1e-5, 0.1),
    "env.sim.iterations": Bound(1, 1000),
    "env.sim.ls_iterations": Bound(1, 1000),
    "env.sim.njmax": Bound(1, 16384),
    "env.sim.nconmax": Bound(1, 8192),
    "env.sim.num_threads": Bound(1, 1024),
    "env.*history_length": Bound(0, 64),
    "env.scene.entities.*.delay_range": Bound(0, 100, max_items=2),
    "env.scene.terrain.generator.size": Bound(0.1, 100, max_items=2),
    "env.scene.terrain.generator.num_rows": Bound(1, 100),
    "env.scene.terrain.generator.num_cols": Bound(1, 100),
    "env.scene.terrain.generator.border_width": Bound(0, 100),
    "env.scene.terrain.generator.horizontal_scale": Bound(0.01, 10),
    "env.scene.terrain.generator.seed": SEED,
    "env.scene.terrain.generator.flat_patch_sampling.num_patches": Bound(1, 1000),
    "env.scene.terrain.hfield_tile_size": Bound(1, 64),
    "env.scene.terrain.max_init_terrain_level": Bound(0, 100),
    "env.observations.*.params.size": Bound(0, 10, max_items=2),
    "env.observations.*.params.resolution": Bound(0.02, 10),
    "env.curriculum.*.params.num_steps": Bound(0, 10**9),
}
"""Limits of the env overrides that set sizes and rates (exact keys or glob patterns, first match wins)."""
LAYERS = Bound(1, MAX_LAYER_UNITS, max_items=MAX_LAYERS)
"""Hidden layer sizes of a network: at most MAX_LAYERS layers of at most MAX_LAYER_UNITS units."""
AGENT_BOUNDS: dict[str, dict[str, Bound]] = {
    "rsl_rl": {
        "agent.num_steps_per_env": Bound(1, 1024),
        "agent.max_iterations": Bound(1, MAX_ITERATIONS),
        "agent.save_interval": Bound(1, MAX_ITERATIONS),
        "agent.seed": SEED,
        "agent.*hidden_dims": LAYERS,
        "agent.*rnn_hidden_dim": Bound(1, MAX_LAYER_UNITS),
        "agent.*rnn_num_layers": Bound(1, MAX_LAYERS),
        "agent.algorithm.num_learning_epochs": Bound(1, 100),
        "agent.algorithm.num_mini_batches": Bound(1, 4096),
    },
    "skrl": {  # skrl's runner file (network layers and replay memory: agent_limits.py)
        "agent.seed": SEED,
        "agent.agent.rollouts": Bound(1, 1024),
        "agent.agent.learning_epochs": Bound(1, 100),
        "agent.agent.mini_batches": Bound(1, 4096),
        "agent.agent.batch_size": Bound(1, 65536),
        "agent.agent.gradient_steps": Bound(1, 64),
        "agent.agent.random_timesteps": Bound(0, 10**9),
        "agent.agent.learning_starts": Bound(0, 10**9),
        "agent.agent.experiment.*_interval": Bound(-1, 10**12),
        "agent.memory.memory_size": Bound(-1, MAX_REPLAY),
        "agent.trainer.timesteps": Bound(1, 10**12),
    },
    "rl_games": {  # rl_games' params tree
        "agent.params.seed": SEED,
        "agent.params.network.mlp.units": LAYERS,
        "agent.params.config.horizon_length": Bound(1, 1024),
        "agent.params.config.minibatch_size": Bound(1, MAX_ROLLOUT),
        "agent.params.config.minibatch_size_per_env": Bound(1, 1024),
        "agent.params.config.mini_epochs": Bound(1, 100),
        "agent.params.config.max_epochs": Bound(1, MAX_ITERATIONS),
        "agent.params.config.save_frequency": Bound(0, MAX_ITERATIONS),
        "agent.params.config.save_best_after": Bound(0, MAX_ITERATIONS),
        "agent.params.config.seq_length": Bound(1, 1024),
        "agent.params.config.central_value_config.network.mlp.units": LAYERS,
        "agent.params.config.central_value_config.minibatch_size": Bound(1, MAX_ROLLOUT),
        "agent.params.config.central_value_config.minibatch_size_per_env": Bound(1, 1024),
        "agent.params.config.central_value_config.mini_epochs": Bound(1, 100),
    },
    "sb3": {  # sb3's PPO(...) / SAC(...) arguments
        "agent.seed": SEED,
        "agent.n_timesteps": Bound(1, 10**12),
        "agent.n_steps": Bound(1, 8192),
        "agent.batch_size": Bound(1, MAX_ROLLOUT),
        "agent.n_epochs": Bound(1, 100),
        "agent.buffer_size": Bound(1, MAX_REPLAY),
        "agent.learning_starts": Bound(0, 10**9),
        "agent.train_freq": Bound(1, 1024),
        "agent.gradient_steps": Bound(-1, 1024),
        "agent.target_update_interval": Bound(1, MAX_INT),
        "agent.policy_kwargs.net_arch*": LAYERS,
        "agent.policy_kwargs.n_critics": Bound(1, 10),
    },
}
"""Limits of each library's agent overrides that set sizes and rates (the typed configs' field paths,
`agents/<library>_cfg.py`)."""
OVERRIDE_BOUNDS: dict[str, Bound] = {**ENV_BOUNDS, **AGENT_BOUNDS["rsl_rl"]}
"""The limits of an rsl_rl job's overrides."""


def bounds_for(library: str) -> dict[str, Bound]:
    """The limits of the overrides of a job of `library`: the env's and the library's agent config's."""
    return {**ENV_BOUNDS, **AGENT_BOUNDS[library]}


def video_interval_problem(num_iterations: int, video_interval: int | None) -> str | None:
    """Why a job may not record clips every `video_interval` of its `num_iterations` (None: it may)."""
    if video_interval is None:
        return None
    clips = -(-num_iterations // video_interval)
    if clips > MAX_VIDEO_CLIPS:
        lowest = -(-num_iterations // MAX_VIDEO_CLIPS)
        return (
            f"{num_iterations} iterations with a clip every {video_interval} make {clips} clips; at most "
            f"{MAX_VIDEO_CLIPS} are allowed (video_interval >= {lowest})."
        )
    return None


def check_payload(overrides: Mapping[str, Any]) -> None:
    """Raise OverrideError if the overrides are too many, too long or too deep (before any is applied)."""
    if len(overrides) > MAX_OVERRIDES:
        raise OverrideError("", f"at most {MAX_OVERRIDES} overrides are allowed, got {len(overrides)}.")
    total = 0
    for key, value in overrides.items():
        if len(key) > MAX_KEY_CHARS:
            raise OverrideError(key[:40] + "...", f"keys are at most {MAX_KEY_CHARS} characters long.")
        if depth(value) > MAX_DEPTH:
            raise OverrideError(key, f"values nest at most {MAX_DEPTH} levels of lists and objects.")
        size = len(json.dumps(value))
        if size > MAX_VALUE_CHARS:
            raise OverrideError(key, f"a value is at most {MAX_VALUE_CHARS} characters as JSON, got {size}.")
        total += size + len(key)
    if total > MAX_OVERRIDES_CHARS:
        raise OverrideError(
            "", f"all overrides together are at most {MAX_OVERRIDES_CHARS} characters as JSON."
        )


def check_bounds(overrides: Mapping[str, Any], bounds: Mapping[str, Bound] = OVERRIDE_BOUNDS) -> None:
    """Raise OverrideError for a number outside its bound or an integer above MAX_INT (above the
    bound's own limit where that is higher), also inside object values: `{"params": {"size": [...]}}`
    is checked as `params.size`."""
    for key, value in overrides.items():
        for sub_key, sub_value in leaves(key, value):
            where = "" if sub_key == key else f"{sub_key[len(key) + 1 :]}: "
            bound = find_bound(sub_key, bounds)
            try:
                if bound is not None:
                    bound.check(key, sub_value)
            except OverrideError as err:
                raise OverrideError(key, where + err.reason) from None
            cap = max(MAX_INT, bound.high if bound is not None else 0)
            if any(_big_int(v, cap) for v in _numbers(sub_value)):
                raise OverrideError(key, f"{where}integers here are at most {cap:,} in magnitude.")


def check_resolved(env_cfg: Any, steps_per_iteration: int, steps_key: str) -> None:
    """Raise OverrideError if the env config and the agent's rollout length (`steps_per_iteration`, set by
    the override `steps_key`), overrides applied, would allocate too much at once."""
    scene = getattr(env_cfg, "scene", None)
    num_envs = getattr(scene, "num_envs", None) or 1
    if num_envs * steps_per_iteration > MAX_ROLLOUT:
        name = steps_key.rsplit(".", 1)[-1] or "steps per iteration"
        raise OverrideError(
            steps_key or "env.scene.num_envs",
            f"num_envs x {name} is at most {MAX_ROLLOUT:,}, got {num_envs} x {steps_per_iteration}.",
        )
    sim = getattr(env_cfg, "sim", None)
    for name in ("njmax", "nconmax"):
        per_world = getattr(sim, name, None) or 0
        if num_envs * per_world > MAX_CONSTRAINT_ROWS:
            raise OverrideError(
                f"env.sim.{name}",
                f"num_envs x {name} is at most {MAX_CONSTRAINT_ROWS:,}, got {num_envs} x {per_world}.",
            )
    for key, points in scan_points(env_cfg):
        if points > MAX_SCAN_POINTS:
            raise OverrideError(
                key, f"the scan grid would have {points:,} rays; at most {MAX_SCAN_POINTS:,} are allowed."
            )
    samples = terrain_samples(getattr(scene, "terrain", None))
    if samples > MAX_TERRAIN_SAMPLES:
        raise OverrideError(
            "env.scene.terrain.generator",
            f"the terrain would have {samples:,} height samples; at most {MAX_TERRAIN_SAMPLES:,} are allowed "
            "(fewer rows/cols, smaller size or border, larger horizontal_scale).",
        )


def scan_points(env_cfg: Any) -> Iterator[tuple[str, int]]:
    """`(params key, rays)` of every observation term with a grid `size` and `resolution`."""
    for group_name, group in (getattr(env_cfg, "observations", None) or {}).items():
        for term_name, term in (getattr(group, "terms", None) or {}).items():
            params = getattr(term, "params", None) or {}
            size, resolution = params.get("size"), params.get("resolution")
            if (
                not isinstance(size, (list, tuple))
                or not isinstance(resolution, (int, float))
                or resolution <= 0
            ):
                continue
            try:
                points = math.prod(math.floor(float(s) / resolution) + 1 for s in size)
            except (TypeError, ValueError, OverflowError):
                continue  # not numbers: the term's own checks refuse them when the job starts
            yield f"env.observations.{group_name}.terms.{term_name}.params", points


def terrain_samples(terrain: Any) -> int:
    """Height samples of a generated terrain (0 for none or a plane)."""
    gen = getattr(terrain, "generator", None)
    if gen is None or getattr(terrain, "type", "generator") != "generator":
        return 0
    scale = max(float(gen.horizontal_scale), 1e-9)
    width = gen.num_rows * gen.size[0] + 2 * gen.border_width
    length = gen.num_cols * gen.size[1] + 2 * gen.border_width
    return math.ceil(width / scale + 1) * math.ceil(length / scale + 1)


def depth(value: Any) -> int:
    """Nesting depth of lists and dicts (a scalar is 0)."""
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    return 0


def leaves(key: str, value: Any) -> Iterator[tuple[str, Any]]:
    """`(key, value)`, and for object values each nested `(key.sub, value)`."""
    yield key, value
    if isinstance(value, dict):
        for sub, v in value.items():
            yield from leaves(f"{key}.{sub}", v)


def _numbers(value: Any, nested: bool = False) -> Iterator[Any]:
    """The scalars of `value`, inside lists (and objects inside lists); a top-level object's entries are
    separate leaves."""
    if isinstance(value, dict):
        if nested:
            for v in value.values():
                yield from _numbers(v, True)
    elif isinstance(value, list):
        for v in value:
            yield from _numbers(v, True)
    else:
        yield value


def _big_int(v: Any, cap: float) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and abs(v) > cap


def short_repr(value: Any) -> str:
    """The repr of a value a request sent, at most 60 characters (a message quotes it, never whole)."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
