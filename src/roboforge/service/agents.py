"""The RL library and algorithm of a job: which ones a task offers and this server has, the task's typed
agent config of that library, and what it asks per iteration, all read without building an env.

The API names algorithms as `policy_type` ("PPO", "SAC"); the command line and the registry as `--algorithm`
("ppo", "sac"). `iteration_plan` asks the library's `Learner.iteration_plan`, which the learners use too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from roboforge.envs.registry import task_algorithms
from roboforge.rl.libraries import LIBRARIES, check_installed, learner_class
from roboforge.utils.errors import UserInputError

DEFAULT_LIBRARY = "rsl_rl"
DEFAULT_POLICY_TYPE = "PPO"


class ChoiceError(ValueError):
    """The request's library or policy type cannot be used; `field` is 'library' or 'policy_type'."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def algorithm_of(policy_type: str) -> str:
    """'PPO' -> 'ppo' (the `--algorithm` of `roboforge train`)."""
    return policy_type.lower()


def policy_types(task: str) -> dict[str, list[str]]:
    """`{library: ["PPO", "SAC"]}` of the agent configs `task` registers."""
    return {lib: [a.upper() for a in algos] for lib, algos in task_algorithms(task).items()}


def installed_libraries() -> list[str]:
    """The libraries whose package this server has."""
    found = []
    for name in LIBRARIES:
        try:
            check_installed(name)
        except UserInputError:
            continue
        found.append(name)
    return found


def describe(offered: dict[str, list[str]]) -> str:
    """`{"rsl_rl": ["PPO"], "skrl": ["PPO", "SAC"]}` -> "rsl_rl (PPO), skrl (PPO, SAC)"."""
    return ", ".join(f"{lib} ({', '.join(types)})" for lib, types in offered.items())


def check_choice(task: str, library: str, policy_type: str) -> None:
    """Raise ChoiceError unless `task` registers `library`'s `policy_type` config and the library is installed."""
    offered = policy_types(task)
    has = f"it has {describe(offered)}"
    if library not in offered:
        raise ChoiceError("library", f"task {task!r} has no {library} agent config; {has}.")
    if algorithm_of(policy_type) not in LIBRARIES[library].algorithms:
        others = [lib for lib, types in offered.items() if policy_type in types]
        hint = (
            f"send library {' or '.join(repr(o) for o in others)}" if others else f"task {task!r} {has[3:]}"
        )
        raise ChoiceError("policy_type", f"{library} has no {policy_type} in roboforge; {hint}.")
    if policy_type not in offered[library]:
        raise ChoiceError("policy_type", f"task {task!r} has no {library} {policy_type} agent config; {has}.")
    try:
        check_installed(library)
    except UserInputError:
        info = LIBRARIES[library]
        raise ChoiceError(
            "library",
            f'the {info.package} package is not installed on this server (pip install -e ".[{info.extra}]"); '
            f"installed: {', '.join(installed_libraries())}.",
        ) from None


def load_agent_cfg(task: str, library: str, policy_type: str) -> Any:
    """The task's typed agent config of `library` and `policy_type` (`Learner.load_cfg`); a library whose
    adapter cannot be imported here, or a config file that cannot be read, is a ChoiceError on `library`."""
    try:
        learner = learner_class(library)
    except ImportError as err:
        raise ChoiceError(
            "library", f"{library} cannot be loaded on this server ({err}); use another library."
        ) from err
    try:
        return learner.load_cfg(task, algorithm_of(policy_type))
    except UserInputError as err:  # the task's own file: the server's problem, said where it lies
        raise ChoiceError(
            "library", f"the task's {library} {policy_type} agent config cannot be used: {err}"
        ) from err


@dataclass(frozen=True)
class IterationPlan:
    """What one training iteration of an agent config asks."""

    steps_per_iteration: int
    """Env steps per world in one iteration (the rollout length)."""
    steps_key: str
    """The override that sets `steps_per_iteration` (`agent.num_steps_per_env`, ...); '' where it is fixed."""
    max_iterations: int
    """The iterations the config asks for (the job's `num_iterations` replaces it)."""


STEPS_KEYS = {
    ("rsl_rl", "ppo"): "agent.num_steps_per_env",
    ("skrl", "ppo"): "agent.agent.rollouts",
    ("rl_games", "ppo"): "agent.params.config.horizon_length",
    ("sb3", "ppo"): "agent.n_steps",
    ("sb3", "sac"): "agent.train_freq",
}
"""The override that sets the rollout length of each library and algorithm (none: fixed)."""


def check_cfg(library: str, policy_type: str, cfg: Any, num_envs: int) -> None:
    """The learner's `check_cfg`: an OverrideError where `cfg`'s mini-batches cannot split a rollout."""
    learner_class(library).check_cfg(cfg, algorithm_of(policy_type), num_envs)


def iteration_plan(library: str, policy_type: str, cfg: Any, num_envs: int) -> IterationPlan:
    """The learner's `steps_per_iteration` and `max_iterations` for `cfg` with `num_envs` worlds."""
    algorithm = algorithm_of(policy_type)
    steps, iterations = learner_class(library).iteration_plan(cfg, algorithm, num_envs)
    return IterationPlan(steps, STEPS_KEYS.get((library, algorithm), ""), iterations)
