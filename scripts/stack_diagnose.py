"""Why a stack-cube-panda policy does or does not let go: the measurements of docs/stack-release.md in one run.

    python scripts/stack_diagnose.py CHECKPOINT [--device cpu|cuda] [--num-envs 64] [--open-at 300]

Three episodes of the deterministic policy (one reset each), with the env overrides the run trained with:
1. as trained: the share of world-steps with A stacked, A's speed while stacked, the gripper action while
   stacked (binary gripper: an opening is an action > 0; speed gripper: the opening grows), the fingers'
   opening while stacked (0 closed on A .. 1 open; `Metrics/stack/released` counts > 0.5), and the arm's
   chatter (mean |a(t) - a(t-1)| against |a(t) - a(t-2)|: a period-2 cycle has the first large and the second
   small);
2. forced open: from step --open-at on, the arm's targets of that step are held and the gripper is commanded
   open; how many of the worlds stacked at that step still hold A on B 60 steps later;
3. the same with the arm following the policy: whether the policy's own reaction to open fingers (e.g.
   descending to grasp again) knocks A off, and in how many of those worlds the palm touched A.
With --smooth-arm the arm's actions sent to the env are the mean of the policy's action and the last one sent
(a filter that removes a period-2 chatter): whether a still arm would let go without losing A.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

import roboforge.tasks  # noqa: F401  (registers the tasks)
from roboforge import mdp
from roboforge.mdp import manipulation
from roboforge.mdp.commands.stack_command import gripper_opening
from roboforge.rl.evaluate import load_policy, policy_actions
from roboforge.rl.run_dir import saved_env_overrides
from roboforge.rl.session import build_session

TASK = "stack-cube-panda"


def stacked_mask(env) -> torch.Tensor:
    params = env.reward_manager.cfgs["commanding_release"].params
    return manipulation.object_stacked(
        env, params["command_name"], params["xy_threshold"], params["z_threshold"]
    ).bool()


def finger_opening(env) -> torch.Tensor:
    """0 closed on A .. 1 open, as `Metrics/stack/released` measures it (released: > 0.5 while stacked)."""
    params = env.reward_manager.cfgs["releasing_on_base"].params
    robot = env.scene["robot"]
    fingers = robot.data.joint_pos[:, robot.joint_index(["finger_joint.*"])]
    return gripper_opening(fingers, params["holding_joint_pos"], params["open_joint_pos"])


def first_obs(env):
    obs = env.reset()
    return obs[0] if isinstance(obs, tuple) else obs


def smoothed(action: torch.Tensor, last_sent: torch.Tensor | None, smooth_arm: bool) -> torch.Tensor:
    """The action to send: with `smooth_arm`, the arm's part averaged with the last action sent."""
    if smooth_arm and last_sent is not None:
        action = action.clone()
        action[:, :-1] = 0.5 * (action[:, :-1] + last_sent[:, :-1])
    return action


def as_trained(session, policy, steps: int, smooth_arm: bool) -> dict[str, float]:
    env = session.env
    obs = first_obs(env)
    cube = env.scene["cube_a"]
    actions, stacked, speed, gripper, opening = [], [], [], [], []
    for _ in range(steps):
        with torch.no_grad():
            action = smoothed(
                policy_actions(session, policy, obs), actions[-1] if actions else None, smooth_arm
            )
        obs, *_ = env.step(action)
        actions.append(action)
        stacked.append(stacked_mask(env))
        speed.append(cube.data.root_lin_vel_w.norm(dim=-1))
        gripper.append(env.action_manager.term_action("gripper")[:, 0].clone())
        opening.append(finger_opening(env))
    a, s = torch.stack(actions), torch.stack(stacked)
    v, g, o = torch.stack(speed)[s], torch.stack(gripper)[s], torch.stack(opening)[s]
    arm = a[..., :-1]
    step1 = (arm[2:] - arm[1:-1]).abs()[s[2:]].mean()
    step2 = (arm[2:] - arm[:-2]).abs()[s[2:]].mean()
    out = {"stacked share of world-steps": float(s.float().mean())}
    if len(v):
        q = torch.quantile(v.float().cpu(), torch.tensor([0.1, 0.5, 0.9]))
        out |= {
            "A speed while stacked, mm/s (10%)": 1000 * float(q[0]),
            "A speed while stacked, mm/s (50%)": 1000 * float(q[1]),
            "A speed while stacked, mm/s (90%)": 1000 * float(q[2]),
            "gripper action while stacked, mean": float(g.mean()),
            "gripper action while stacked, share > 0": float((g > 0).float().mean()),
            "finger opening while stacked, mean": float(o.mean()),
            "finger opening while stacked, share > 0.5": float((o > 0.5).float().mean()),
            "arm |a(t)-a(t-1)| while stacked": float(step1),
            "arm |a(t)-a(t-2)| while stacked": float(step2),
        }
    return out


def forced_open(
    session, policy, open_at: int, smooth_arm: bool, hold_arm: bool = True, after: int = 60
) -> dict[str, float]:
    """From step `open_at` on, command the gripper open; the arm holds its targets of that step (`hold_arm`) or
    keeps following the policy. How many of the worlds stacked at `open_at` still are `after` steps later, and
    (policy's arm) how many had the palm touch A meanwhile."""
    env = session.env
    obs = first_obs(env)
    held = stacked_at_open = last_sent = None
    palm = torch.zeros(env.num_envs, dtype=torch.bool, device=env.device)
    for t in range(open_at + after):
        with torch.no_grad():
            action = last_sent = smoothed(policy_actions(session, policy, obs), last_sent, smooth_arm)
        if t >= open_at:
            if held is None:
                held, stacked_at_open = action.clone(), stacked_mask(env)
            if hold_arm:
                action = held.clone()
            action[:, -1] = 1.0
        obs, *_ = env.step(action)
        if t >= open_at:
            palm |= palm_on_a(env)
    assert stacked_at_open is not None
    kept = stacked_mask(env) & stacked_at_open
    if hold_arm:
        return {
            f"stacked at step {open_at}": float(stacked_at_open.sum()),
            f"still stacked {after} steps after opening": float(kept.sum()),
        }
    return {
        f"policy's arm: stacked at step {open_at}": float(stacked_at_open.sum()),
        f"policy's arm: still stacked {after} steps after opening": float(kept.sum()),
        "policy's arm: palm touched A after opening": float((palm & stacked_at_open).sum()),
    }


def palm_on_a(env) -> torch.Tensor:
    """True where the palm touches cube A this step (the `palm_on_object` penalty's contact)."""
    params = env.reward_manager.cfgs["palm_on_object"].params
    return mdp.undesired_contacts(env, **params) > 0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--num-envs", type=int, default=64)
    parser.add_argument("--open-at", type=int, default=300)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument(
        "--smooth-arm", action="store_true", help="average each arm action with the last one sent"
    )
    args = parser.parse_args()
    # the run's own env overrides (e.g. a speed gripper), as eval applies them
    run_env = {k.removeprefix("env."): v for k, v in saved_env_overrides(args.checkpoint.parent).items()}
    session = build_session(TASK, args.num_envs, device=args.device, seed=args.seed, env_overrides=run_env)
    policy = load_policy(session, args.checkpoint)
    results = as_trained(session, policy, args.open_at + 60, args.smooth_arm)
    results |= forced_open(session, policy, args.open_at, args.smooth_arm)
    results |= forced_open(session, policy, args.open_at, args.smooth_arm, hold_arm=False)
    for name, value in results.items():
        print(f"{name:45s} {value:10.4f}")


if __name__ == "__main__":
    main()
