"""Learning test (cart-pole PPO on CPU), checkpoints, resume, evaluation, Ctrl-C and NaN handling."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest
import torch

from roboforge.rl.checkpoints import (
    latest_checkpoint,
    read_torch_checkpoint,
    resolve_checkpoint,
    save_checkpoint,
)
from roboforge.rl.evaluate import evaluate
from roboforge.rl.metrics import read_metrics
from roboforge.rl.session import build_session
from roboforge.rl.trainer import PolicyNaNError, Trainer

pytestmark = pytest.mark.slow

TRAIN_ENVS = 512
# ~11 s on 2 cores; balancing is learnt around iteration 50 (mean episode length ~270/300 after that)
TRAIN_ITERATIONS = 80
# An untrained (deterministic) policy lets the pole fall past horizontal after ~40 steps (mean return
# about 0.15, see test_untrained_policy_baseline); a trained one balances for ~270.
MIN_TRAINED_LENGTH = 200.0
MIN_TRAINED_RETURN = 3.0


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One short training run shared by the tests of this file: (run_dir, TrainResult)."""
    run_dir = tmp_path_factory.mktemp("cartpole_run")
    session = build_session("cartpole", num_envs=TRAIN_ENVS, device="cpu")
    result = Trainer(session, run_dir, max_iterations=TRAIN_ITERATIONS, quiet=True).train()
    return run_dir, result


def small_session(num_envs: int = 64, **kwargs):
    return build_session("cartpole", num_envs=num_envs, device="cpu", **kwargs)


def flat_actor(session) -> torch.Tensor:
    return torch.cat([v.flatten() for v in session.learner.alg.actor.state_dict().values()])


def test_training_learns_to_balance(trained):
    run_dir, result = trained
    assert result.iterations == TRAIN_ITERATIONS and not result.interrupted
    assert result.env_steps == TRAIN_ITERATIONS * TRAIN_ENVS * 16
    records = read_metrics(run_dir)
    assert [r["iteration"] for r in records] == list(range(TRAIN_ITERATIONS))
    lengths = [r["Train/mean_episode_length"] for r in records if "Train/mean_episode_length" in r]
    returns = [r["Train/mean_reward"] for r in records if "Train/mean_reward" in r]
    last = sum(lengths[-5:]) / 5
    assert last >= MIN_TRAINED_LENGTH, f"mean episode length of the last 5 iterations: {last:.0f}"
    assert sum(returns[-5:]) / 5 >= MIN_TRAINED_RETURN
    assert max(lengths[:5]) < 100, "the first iterations should be far from balancing"
    assert max(returns[:5]) < 1.0, "untrained episodes end before they collect a return"
    assert records[-1]["nan_resets"] == 0.0
    for key in ("Loss/surrogate", "Perf/total_fps", "Episode_Reward/alive", "Episode/length"):
        assert any(key in r for r in records), key
    # the |action| the policy sends: the first iteration's noise (std 1) has mean |a| about 0.8, and the
    # largest of 8192 draws lies well beyond it
    first = records[0]
    assert 0.5 < first["Policy/mean_abs_action"] < 1.2 < first["Policy/max_abs_action"] < 10.0


def test_checkpoints_are_atomic_and_loadable(trained):
    run_dir, result = trained
    assert result.checkpoint == run_dir / f"model_{TRAIN_ITERATIONS - 1}.pt"
    names = sorted(p.name for p in run_dir.iterdir())
    assert not [n for n in names if n.endswith(".tmp")], names
    assert "model_49.pt" in names  # save_interval 50
    assert latest_checkpoint(run_dir) == result.checkpoint
    assert resolve_checkpoint(run_dir) == result.checkpoint
    state = read_torch_checkpoint(result.checkpoint)
    assert state["iter"] == TRAIN_ITERATIONS - 1
    assert "actor_state_dict" in state and "optimizer_state_dict" in state
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["iterations"] == TRAIN_ITERATIONS
    assert summary["mean_episode_length"] == pytest.approx(result.mean_episode_length)


def test_evaluate_trained_checkpoint(trained):
    _, result = trained
    session = small_session(play=True)
    ev = evaluate(session, result.checkpoint, episodes=64, quiet=True)
    assert ev.episodes >= 64 and ev.max_episode_length == 300
    assert ev.mean_episode_length >= MIN_TRAINED_LENGTH
    assert ev.mean_return >= MIN_TRAINED_RETURN
    # consistent with training: the deterministic policy is at least about as good as the noisy one
    assert ev.mean_episode_length >= 0.8 * result.mean_episode_length
    assert ev.metrics["nan_resets"] == 0.0
    assert 0.0 <= ev.metrics["Episode_Termination/time_out"] <= 1.0


def test_untrained_policy_baseline(tmp_path):
    """The thresholds above cannot be met without learning."""
    session = small_session()
    checkpoint = save_checkpoint(tmp_path, session.learner, 0, ".pt")
    ev = evaluate(session, checkpoint, episodes=64, quiet=True)
    assert ev.mean_episode_length < MIN_TRAINED_LENGTH
    assert ev.mean_return < MIN_TRAINED_RETURN


def test_resume_continues_from_next_iteration(trained, tmp_path):
    _, result = trained
    # copy the run, so the shared one stays as it was
    resumed_dir = tmp_path / "run"
    resumed_dir.mkdir()
    last = result.checkpoint
    (resumed_dir / last.name).write_bytes(last.read_bytes())
    half_written = resumed_dir / f".model_{TRAIN_ITERATIONS}.pt.x1y2.tmp"  # a writer SIGKILLed mid-save
    half_written.write_bytes(last.read_bytes()[:100])
    session = small_session()
    trainer = Trainer(session, resumed_dir, max_iterations=TRAIN_ITERATIONS + 2, quiet=True)
    assert trainer.resume() == TRAIN_ITERATIONS
    assert not half_written.exists()
    saved = read_torch_checkpoint(last)["actor_state_dict"]
    for key, value in session.learner.alg.actor.state_dict().items():
        torch.testing.assert_close(value, saved[key])
    out = trainer.train()
    # every world started its episode with the resume, but the time-outs are spread over an episode again
    # (without, no episode could be older than the 2 x 16 steps taken since)
    assert int(session.env.episode_length_buf.max()) > 2 * 16
    assert out.iterations == TRAIN_ITERATIONS + 2
    assert out.env_steps == 2 * 64 * 16
    assert out.checkpoint == resumed_dir / f"model_{TRAIN_ITERATIONS + 1}.pt"
    assert [r["iteration"] for r in read_metrics(resumed_dir)] == [TRAIN_ITERATIONS, TRAIN_ITERATIONS + 1]
    assert read_torch_checkpoint(out.checkpoint)["iter"] == TRAIN_ITERATIONS + 1
    # training went on from the checkpoint's weights (moved a little), not from a fresh initialisation
    after = flat_actor(session)
    start = torch.cat([saved[k].flatten() for k in session.learner.alg.actor.state_dict()])
    fresh = flat_actor(small_session(num_envs=4))
    assert 0 < (after - start).norm() < 0.1 * (fresh - start).norm()


def test_resume_without_checkpoint_raises(tmp_path):
    with pytest.raises(FileNotFoundError, match="Nothing to resume"):
        Trainer(small_session(num_envs=4), tmp_path, 1, quiet=True).resume()


def test_keyboard_interrupt_leaves_loadable_checkpoint(tmp_path, monkeypatch):
    session = small_session()
    real_step = session.env._step_impl  # what env.step and rsl_rl's rollout step both run
    calls = {"n": 0}

    def step_then_interrupt(actions):
        calls["n"] += 1
        if calls["n"] > 40:  # inside the 3rd iteration (16 steps each)
            raise KeyboardInterrupt
        return real_step(actions)

    monkeypatch.setattr(session.env, "_step_impl", step_then_interrupt)
    result = Trainer(session, tmp_path, max_iterations=10, quiet=True).train()
    assert result.interrupted
    assert result.iterations == 2
    assert result.checkpoint == tmp_path / "model_1.pt"
    assert read_torch_checkpoint(result.checkpoint)["iter"] == 1
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*.tmp"))
    assert len(read_metrics(tmp_path)) == 2
    # the checkpoint resumes cleanly
    assert Trainer(small_session(num_envs=4), tmp_path, 5, quiet=True).resume() == 2


def test_sigterm_inside_a_checkpoint_write_waits_for_it_then_stops(tmp_path, monkeypatch):
    """A cancel that lands inside torch.save used to tear the write (torch raises RuntimeError, and the
    process can abort): the stop now waits for the checkpoint, then ends the run as Ctrl-C does."""
    session = small_session(num_envs=4)
    session.learner.save_interval = 1
    real_save, sent = session.learner.save, []

    class SigtermOnSecondWrite:  # the file torch.save writes through, from its C++ zip writer
        def __init__(self, file) -> None:
            self.file, self.writes = file, 0

        def write(self, data) -> int:
            self.writes += 1
            if self.writes == 2 and not sent:  # mid-file: torch then fails with RuntimeError
                sent.append(True)
                os.kill(os.getpid(), signal.SIGTERM)  # its handler runs before this write returns
            return self.file.write(data)

        def flush(self) -> None:
            self.file.flush()

    def save_with_sigterm_midway(file):
        real_save(SigtermOnSecondWrite(file) if session.learner.iteration == 1 else file)

    monkeypatch.setattr(session.learner, "save", save_with_sigterm_midway)
    result = Trainer(session, tmp_path, max_iterations=10, quiet=True).train()
    assert result.interrupted and result.iterations == 2
    assert read_torch_checkpoint(tmp_path / "model_1.pt")["iter"] == 1
    assert not list(tmp_path.glob(".*.tmp"))
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handler is gone after training


def test_nan_actions_stop_training(tmp_path, monkeypatch):
    from roboforge.rl.libraries import rsl_rl_rollout

    session = small_session(num_envs=16)
    real_sample = rsl_rl_rollout.sample_actions

    def nan_actions(actor, obs):
        return real_sample(actor, obs) * float("nan")

    monkeypatch.setattr(rsl_rl_rollout, "sample_actions", nan_actions)
    with pytest.raises(PolicyNaNError, match=r"NaN/inf actions at iteration 0"):
        Trainer(session, tmp_path, max_iterations=3, quiet=True).train()
    assert not list(tmp_path.glob("model_*.pt")), "no checkpoint of a NaN policy"


def test_corrupt_checkpoint_is_reported(tmp_path):
    bad = tmp_path / "model_3.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match=r"model_3\.pt cannot be read"):
        read_torch_checkpoint(bad)
    torch.save({"something": 1}, tmp_path / "model_4.pt")
    with pytest.raises(ValueError, match="not an rsl_rl checkpoint"):
        small_session(num_envs=2).learner.load(tmp_path / "model_4.pt", training=False)
    with pytest.raises(FileNotFoundError, match="Checkpoint not found"):
        read_torch_checkpoint(tmp_path / "model_5.pt")
    empty = tmp_path / "empty_run"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match=r"No model_<n> checkpoint in .*empty_run"):
        resolve_checkpoint(empty)


def test_dropped_contacts_are_reported_once_per_run(tmp_path):
    import io

    from rich.console import Console
    from rich.progress import Progress

    session = build_session("cartpole", num_envs=2, device="cpu")
    trainer = Trainer(session, tmp_path, max_iterations=1, quiet=True)
    progress = Progress(console=Console(file=io.StringIO(), width=1000))
    trainer._warn_buffer_overflow(progress, {"sim_overflows": 0.0}, 2)
    trainer._warn_buffer_overflow(progress, {"sim_overflows": 12.0}, 3)
    trainer._warn_buffer_overflow(progress, {"sim_overflows": 5.0}, 4)
    text = progress.console.file.getvalue()  # type: ignore[attr-defined]
    assert text.count("dropped contacts") == 1 and "iteration 3" in text and "12 world-steps" in text
    assert "-o env.sim.njmax=" in text and "-o env.sim.nconmax=" in text


def test_runs_started_in_the_same_second_get_their_own_folders(tmp_path):
    """Sixteen runs of one task claim their folders at once (threads released together, as concurrent
    processes would): every one gets a folder of its own and none fails on another's."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from roboforge.rl.run_dir import new_run_dir

    start = threading.Barrier(16)

    def claim(_):
        start.wait()
        return new_run_dir(tmp_path, "cartpole")

    with ThreadPoolExecutor(16) as pool:
        folders = list(pool.map(claim, range(16)))
    assert len(set(folders)) == 16 and all(f.is_dir() for f in folders)


@pytest.mark.parametrize("seed, overrides", [(5, {}), (None, {"seed": 5})])
def test_each_rank_of_a_distributed_run_offsets_the_seed_it_was_given(seed, overrides, monkeypatch):
    """Rank 1 of a run seeded 5 (by --seed or by -o env.seed) builds its worlds with seed 6, not rank 0's."""
    from roboforge.rl import distributed, session

    class Built(Exception):
        pass

    def make_env(task, cfg):
        raise Built(cfg.seed)

    monkeypatch.setattr(distributed, "current", lambda: distributed.Rank(rank=1, world_size=2))
    monkeypatch.setattr(session, "make_env", make_env)
    with pytest.raises(Built) as built:
        build_session("cartpole", num_envs=2, device="cpu", seed=seed, env_overrides=overrides)
    assert built.value.args == (6,)


def test_the_newest_run_is_the_one_that_trained_last_not_the_one_touched_last(tmp_path):
    """eval/play/export/plot write into a run folder (exported/, videos/, curves.png); that must not make
    an old run "the newest" of `--checkpoint runs/<task>`, `plot runs/<task>` or `--resume`."""
    from roboforge.rl.plot import run_folder
    from roboforge.rl.run_dir import latest_run_dir

    task = tmp_path / "cartpole"
    old, new = task / "2026-12-05_00-10-31", task / "2026-12-05_00-11-50"
    now = time.time()
    for run, trained_at in ((old, now - 300), (new, now - 200)):
        run.mkdir(parents=True)
        for name in ("metrics.jsonl", "model_9.pt"):
            (run / name).write_text("{}\n")
            os.utime(run / name, (trained_at, trained_at))
        os.utime(run, (trained_at, trained_at))
    (old / "exported").mkdir()  # the old run exported after the new one trained: its folder is newer
    os.utime(old, (now - 100, now - 100))
    assert resolve_checkpoint(task) == new / "model_9.pt"
    assert resolve_checkpoint(tmp_path, "cartpole") == new / "model_9.pt"
    assert run_folder(task) == new
    assert latest_run_dir(tmp_path, "cartpole") == new
    os.utime(old / "model_9.pt", (now, now))  # the old run resumed: now it trained last
    assert resolve_checkpoint(task) == old / "model_9.pt"


def test_a_resume_appends_after_a_half_written_record_and_trains_each_lost_iteration_once(tmp_path):
    """A run killed while it wrote iteration 6's record, with its last checkpoint at iteration 3: the resume
    glued its first record to the half line (both lost to every reader) and logged iterations 4 and 5 twice."""
    from roboforge.rl.metrics import MetricsWriter

    path = tmp_path / "metrics.jsonl"
    path.write_text(
        "".join(json.dumps({"iteration": i, "x": i}) + "\n" for i in range(6)) + '{"iteration": 6, "x'
    )
    writer = MetricsWriter(tmp_path, tensorboard=False, first_iteration=4)
    for i in (4, 5, 6):
        writer.write(i, {"x": 10 * i})
    writer.close()
    records = read_metrics(tmp_path)
    assert [(r["iteration"], r["x"]) for r in records] == [
        (0, 0),
        (1, 1),
        (2, 2),
        (3, 3),
        (4, 40),
        (5, 50),
        (6, 60),
    ]
    assert all(json.loads(line) for line in path.read_text().splitlines())  # no damaged line is left
    MetricsWriter(tmp_path, tensorboard=False, first_iteration=7).close()  # nothing to drop: the file stays
    assert read_metrics(tmp_path) == records


@pytest.mark.parametrize("world_size", [2, 1])
def test_a_rank_whose_collective_fails_after_the_stop_checkpoints_like_an_interrupt(
    tmp_path, monkeypatch, world_size
):
    """SIGTERM to torchrun reaches every rank; a rank waiting in a collective saw the backend's error (the
    ranks that left first closed their connections) before Python raised the stop, so rank 0 ended with that
    error and no checkpoint (CI, 2026-12-08, skrl). A failure without a stop, or of a single process, is
    still an error."""
    from roboforge.rl import distributed

    session = small_session()
    real_step = session.env._step_impl
    calls = {"n": 0}

    def stop_arrives_while_the_collective_fails(actions):
        calls["n"] += 1
        if calls["n"] > 40:  # inside the 3rd iteration (16 steps each)
            stops = signal.getsignal(signal.SIGTERM).__self__  # the trainer's StopSignals
            stops.received = True  # the signal came, its handler has not run yet
            raise RuntimeError("[gloo] Connection closed by peer")
        return real_step(actions)

    monkeypatch.setattr(session.env, "_step_impl", stop_arrives_while_the_collective_fails)
    monkeypatch.setattr(distributed, "current", lambda: distributed.Rank(0, world_size, 0))
    trainer = Trainer(session, tmp_path, max_iterations=10, quiet=True)
    if world_size == 1:
        with pytest.raises(RuntimeError, match="Connection closed by peer"):
            trainer.train()
        return
    result = trainer.train()
    assert result.interrupted and result.checkpoint == tmp_path / "model_1.pt"
    assert read_torch_checkpoint(result.checkpoint)["iter"] == 1
