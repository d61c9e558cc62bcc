"""PPO settings for the reach tasks."""

from __future__ import annotations

from roboforge.agents.rsl_rl_cfg import RslRlModelCfg, RslRlPpoAlgorithmCfg, RslRlPpoRunnerCfg

# Initial action noise per control mode: modes whose actions integrate (velocities, torques) or are
# absolute poses start calmer, so early exploration does not throw the arm around.
INIT_NOISE_STD = {"joint_pos": 1.0, "joint_vel": 0.5, "effort": 0.5, "ik_rel": 1.0, "ik_abs": 0.3, "osc": 0.3}
# Velocity actions move the arm only through their integral, so the reward barely resists wider noise and
# the entropy bonus alone grew the std from 0.5 to 2.7 in 400 iterations (the GPU run's value loss then
# overflowed): no entropy bonus there.
# Effort and relative-IK actions grow their std too (2-core CPU, 512 worlds, 2026-12-07: effort 0.5 -> 2.3,
# Panda IK-rel 1.0 -> 2.4) but need the bonus to explore: without it the effort std fell to 0.17 and the
# arm ended 111 mm off in eval (11 mm with it); Panda IK-rel's training error at iteration 699 was 52 mm
# (24 mm with it).
ENTROPY_COEF = {"joint_vel": 0.0}
# Observations are normalized (running mean/std in actor and critic; every library's reach agent does
# the same). Without it reach-ur5e reached ~10 mm by iteration 450 and then drifted to 60-110 mm by
# iteration 800 in every seed (H200, 2026-12-01); with it, three seeds of three end at 5.3-5.8 mm from the
# final checkpoint. Zeroing the last-action input cured it too, so the drift came through the policy's
# poorly scaled inputs, not from the entropy bonus or the KL schedule.


def reach_ppo_cfg(
    control: str = "joint_pos", max_iterations: int = 1000, recurrent: bool = False
) -> RslRlPpoRunnerCfg:
    """Two 64-unit layers (after a 64-unit LSTM with `recurrent`), normalized observations, 24-step rollouts,
    adaptive learning rate."""
    rnn = {"rnn_type": "lstm", "rnn_hidden_dim": 64} if recurrent else {}
    return RslRlPpoRunnerCfg(
        num_steps_per_env=24,
        max_iterations=max_iterations,
        save_interval=50,
        experiment_name="reach",
        actor=RslRlModelCfg(
            hidden_dims=[64, 64], init_noise_std=INIT_NOISE_STD[control], obs_normalization=True, **rnn
        ),
        critic=RslRlModelCfg(hidden_dims=[64, 64], obs_normalization=True, **rnn),
        algorithm=RslRlPpoAlgorithmCfg(
            learning_rate=1.0e-3, entropy_coef=ENTROPY_COEF.get(control, 0.01), num_mini_batches=4
        ),
    )
