"""A frozen low-level policy under the exported one (`navigation-go1`: a velocity policy walks, the exported policy
sends it velocity commands), as the training action term `PreTrainedPolicyAction` runs it.

The export writes the low-level network beside `policy.onnx` (`params['policy_file']` of the `pre_trained_policy`
action term) and describes it there: its network interface, observation terms and joint action terms
(`metadata.low_level_metadata` turns them into a `PolicyMetadata`). It runs on the runtime's own pieces: an
`ObservationBuilder` whose command terms read the high-level action clipped to `command_ranges` and whose
last-action term reads the low-level action, an `OnnxPolicy` session and an `ActionMapper` for the joint targets.
`PolicyRunner` calls it once per joint command (every `low_level_decimation` physics steps) and runs the exported
policy on every `decimation // low_level_decimation`-th command.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from roboforge.deploy.joints import ActionMapper
from roboforge.deploy.metadata import MetadataError, PolicyMetadata, low_level_metadata, low_level_term
from roboforge.deploy.observations import ObsContext, ObservationBuilder
from roboforge.deploy.policy import OnnxPolicy
from roboforge.utils.errors import NotFoundError


class LowLevelPolicy:
    """The low-level controller of one robot: `set_command(high_action)`, then `targets(ctx)` per joint command."""

    def __init__(self, meta: PolicyMetadata, low: PolicyMetadata, policy_dir: Path, threads: int = 1):
        term = low_level_term(meta)
        assert term is not None
        path = policy_dir / term.params["policy_file"]
        if not path.is_file():
            raise NotFoundError(
                f"The low-level policy {path.name} is missing beside {meta.task}'s policy in {policy_dir}; "
                "copy the whole export folder."
            )
        try:
            self.policy = OnnxPolicy(path, threads, low)
        except MetadataError as err:
            raise MetadataError(
                f"The low-level policy does not fit the layout the exported policy describes ({err}); copy "
                "the whole export folder, or export the run again."
            ) from err
        self.meta = low
        self.observations = ObservationBuilder(low, policy_dir)
        self.actions = ActionMapper(low)
        ranges = np.asarray(term.params["command_ranges"], dtype=np.float64).reshape(-1, 2)
        self.low, self.high = ranges[:, 0], ranges[:, 1]
        self.command = np.zeros(len(ranges))
        bad = {name: size for name, size in low.commands.items() if size != self.command.size}
        if not low.commands or bad:
            raise MetadataError(
                f"Action term {term.name!r}: the low-level policy must observe the {self.command.size}-value "
                f"command in a generated_commands term; it observes {low.commands or 'none'}."
            )
        self.commands = dict.fromkeys(low.commands, self.command)
        self.action = np.zeros(low.policy.action_dim, dtype=np.float64)

    @classmethod
    def of(cls, meta: PolicyMetadata, policy_dir: Path, threads: int = 1) -> LowLevelPolicy | None:
        """The low-level controller of `meta`'s policy (file in `policy_dir`), or None for a policy without one."""
        low = low_level_metadata(meta)
        return None if low is None else cls(meta, low, policy_dir, threads)

    def reset(self) -> None:
        """Start of an episode: zero command and last action, refill histories (as the training term's reset)."""
        self.command[:] = 0.0
        self.action[:] = 0.0
        self.observations.reset()
        self.policy.reset()
        self.actions.reset()

    def set_command(self, high_action: np.ndarray) -> None:
        """The high-level action, clipped to `command_ranges`, becomes the low-level command."""
        self.command[:] = np.minimum(np.maximum(high_action, self.low), self.high)

    def targets(self, ctx: ObsContext) -> np.ndarray:
        """One low-level step on the robot state in `ctx`: targets `(3, num_joints)` (policy joint order, a buffer
        the next call reuses); `action` holds the low-level action."""
        obs = self.observations.compute(replace(ctx, last_action=self.action, commands=self.commands))
        self.action[:] = self.policy.act(obs)
        return self.actions.compute(self.action, ctx.joint_pos, ctx.joint_vel)
