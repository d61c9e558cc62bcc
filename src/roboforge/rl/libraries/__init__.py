"""The RL libraries roboforge trains with, one adapter module per library (`rsl_rl.py`, `skrl.py`,
`rl_games.py`, `sb3.py`), each a `Learner` (`base.py`) that the shared trainer, eval, play and export
drive. This module is light (no torch): the command line checks a library name before heavy imports."""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from typing import TYPE_CHECKING

from roboforge.utils.errors import UserInputError

if TYPE_CHECKING:
    from roboforge.rl.libraries.base import Learner


@dataclass(frozen=True)
class LibraryInfo:
    """One RL library: its import name, the pip extra that installs it, its algorithms, its checkpoints."""

    name: str
    package: str
    """Import name of the library (`stable_baselines3`)."""
    extra: str | None
    """`pip install -e ".[<extra>]"` installs it; None: a core dependency."""
    algorithms: tuple[str, ...]
    checkpoint_suffix: str
    """The suffix of its checkpoint files (`model_<iteration><suffix>`)."""


LIBRARIES = {
    "rsl_rl": LibraryInfo("rsl_rl", "rsl_rl", None, ("ppo",), ".pt"),
    "skrl": LibraryInfo("skrl", "skrl", "skrl", ("ppo", "sac"), ".pt"),
    "rl_games": LibraryInfo("rl_games", "rl_games", "rl-games", ("ppo",), ".pth"),
    "sb3": LibraryInfo("sb3", "stable_baselines3", "sb3", ("ppo", "sac"), ".zip"),
}
DEFAULT_LIBRARY = "rsl_rl"
ALGORITHMS = ("ppo", "sac")


def library_info(library: str) -> LibraryInfo:
    """The LibraryInfo of `library`; an unknown name is a UserInputError listing the known ones."""
    if library not in LIBRARIES:
        raise UserInputError(f"--library must be one of {', '.join(LIBRARIES)}, got {library!r}.")
    return LIBRARIES[library]


def check_algorithm(library: str, algorithm: str) -> None:
    """Raise UserInputError unless `library` implements `algorithm`, naming the libraries that do."""
    if algorithm not in ALGORITHMS:
        raise UserInputError(f"--algorithm must be one of {', '.join(ALGORITHMS)}, got {algorithm!r}.")
    if algorithm not in library_info(library).algorithms:
        have = [name for name, info in LIBRARIES.items() if algorithm in info.algorithms]
        raise UserInputError(
            f"--algorithm {algorithm}: {library} has no {algorithm.upper()} in roboforge; "
            f"use --library {' or --library '.join(have)}."
        )


def check_installed(library: str) -> None:
    """Raise UserInputError naming the pip extra when `library` is not installed."""
    info = library_info(library)
    if importlib.util.find_spec(info.package) is None:
        raise UserInputError(
            f"--library {library}: the {info.package} package is not installed. "
            f'Install it with: pip install -e ".[{info.extra}]" (or ".[all]" for every library).'
        )


def learner_class(library: str) -> type[Learner]:
    """The Learner class of `library` (imports the library)."""
    check_installed(library)
    module = importlib.import_module(f"roboforge.rl.libraries.{library}")
    return module.LEARNER
