"""Data-parallel training of skrl and rl_games PPO on the CPU (gloo), in each library's own multi-GPU mode.

As for rsl_rl (`test_distributed.py`): two real processes train cart-pole with running normalizers on, and
after every iteration both ranks hold the same checkpoint (weights, normalizer statistics, optimizer state)
and learning rate while stepping different worlds; under torchrun rank 0 alone writes the run, whose
checkpoint the library's own loader reads, also after SIGTERM. Every process a test starts is stopped, also
when the test fails.
"""

from __future__ import annotations

import json
import os

import pytest
import torch

from distributed_util import (
    check_ranks_agree,
    checkpoint_tensors,
    join_as_rank,
    run_ranks,
    run_torchrun,
    sigterm_after_iterations,
    state_tensors,
    torchrun_failure,
    torchrun_output,
    training_rank,
)
from roboforge.rl import distributed

pytest.importorskip("skrl")
pytest.importorskip("rl_games")

ITERATIONS = 3
NORMALIZERS = {
    "skrl": {
        "agent.observation_preprocessor": "RunningStandardScaler",
        "agent.value_preprocessor": "RunningStandardScaler",
    },
    "rl_games": {"params.config.normalize_input": True, "params.config.normalize_value": True},
}
"""Agent overrides that switch each library's running observation and value normalizers on."""
LIBRARIES = tuple(NORMALIZERS)
SUFFIX = {"skrl": ".pt", "rl_games": ".pth"}


def _moments_rank(rank: int, world_size: int, port: int, out_dir: str) -> None:
    """One rank: a parallel-variance normalizer updated with this rank's batches, then shared."""
    from torch import nn

    join_as_rank(rank, world_size, port, "rsl_rl")
    finished = False
    try:

        class Scaler(nn.Module):  # skrl's RunningStandardScaler update (torch.var: unbiased batch variance)
            def __init__(self):
                super().__init__()
                self.register_buffer("mean", torch.full((3,), 0.5, dtype=torch.float64))
                self.register_buffer("var", torch.full((3,), 2.0, dtype=torch.float64))
                self.register_buffer("count", torch.tensor(7.0, dtype=torch.float64))

            def update(self, x):
                delta, n = x.mean(0) - self.mean, x.shape[0]
                total = self.count + n
                m2 = self.var * self.count + x.var(0) * n + delta**2 * self.count * n / total
                self.mean, self.var, self.count = self.mean + delta * n / total, m2 / total, total

        generator = torch.Generator().manual_seed(0)
        batches = [[torch.randn(n, 3, generator=generator, dtype=torch.float64) * 3 + 1 for n in (5, 9)]]
        batches.append([torch.randn(n, 3, generator=generator, dtype=torch.float64) - 2 for n in (4, 6, 8)])
        mine, everything = Scaler(), Scaler()
        shared = distributed.SharedMoments([distributed.RunningMoments(mine, "mean", "var", "count")])
        shared.mark()
        for x in batches[rank]:
            mine.update(x)
        shared.share()
        for x in batches[0] + batches[1]:  # one process that saw the batches of both ranks
            everything.update(x)
        close = all(
            torch.allclose(getattr(mine, name), getattr(everything, name), rtol=1e-12, atol=0)
            for name in ("mean", "var", "count")
        )
        with open(os.path.join(out_dir, f"moments{rank}.json"), "w") as f:
            json.dump({"close": close, "count": float(mine.count)}, f)
        finished = True
    finally:
        distributed.leave(finished)


def test_shared_moments_are_what_one_process_would_compute(tmp_path):
    run_ranks(_moments_rank, (str(tmp_path),))
    for rank in range(2):
        report = json.loads((tmp_path / f"moments{rank}.json").read_text())
        assert report == {"close": True, "count": 7.0 + 5 + 9 + 4 + 6 + 8}


@pytest.mark.slow
@pytest.mark.parametrize("library", LIBRARIES)
def test_ranks_hold_the_same_agent_after_every_iteration(library, tmp_path):
    """The library's broadcast, gradient and KL all-reduce, and the shared normalizer statistics."""
    run_ranks(training_rank, (library, NORMALIZERS[library], ITERATIONS, str(tmp_path)))
    check_ranks_agree(tmp_path, ITERATIONS)


def _check_library_loads(library: str, checkpoint) -> None:
    """The library's own loader (skrl's `Agent.load`, rl_games' `restore`) reads the checkpoint whole."""
    from roboforge.rl.session import build_session

    session = build_session("cartpole", num_envs=2, device="cpu", library=library)
    agent = session.learner.agent  # type: ignore[attr-defined]
    if library == "skrl":
        agent.load(str(checkpoint))
    else:
        agent.restore(str(checkpoint))
    saved = torch.load(checkpoint, map_location="cpu", weights_only=False)
    assert torch.equal(checkpoint_tensors(session.learner), state_tensors(saved))


@pytest.mark.slow
@pytest.mark.parametrize("library", LIBRARIES)
def test_torchrun_rank0_alone_writes_a_run_the_library_loads(library, tmp_path):
    """`torchrun --nproc_per_node=2 -m roboforge train cartpole --library L --distributed`."""
    args = ["--library", library, "--num-envs", "32", "--max-iterations", "4", "--run-dir", "runs", "--json"]
    code, out, err = run_torchrun(args, cwd=tmp_path)
    assert code == 0, torchrun_failure(err)
    summary = json.loads(out)  # one JSON document: rank 0 alone prints a summary
    assert summary["env_steps"] == 4 * 16 * 32 * 2  # iterations x steps x worlds x processes
    assert [p.name for p in tmp_path.iterdir()] == ["runs"], "no rank writes anything else (library folders)"
    runs = list((tmp_path / "runs" / "cartpole").iterdir())
    assert len(runs) == 1
    assert json.loads((runs[0] / "params" / "args.json").read_text())["distributed_processes"] == 2
    assert sorted(p.name for p in runs[0].glob("model_*")) == [f"model_3{SUFFIX[library]}"]
    _check_library_loads(library, runs[0] / f"model_3{SUFFIX[library]}")


@pytest.mark.slow
@pytest.mark.parametrize("library", LIBRARIES)
def test_sigterm_leaves_a_checkpoint_that_every_rank_resumes_from(library, tmp_path):
    """SIGTERM to torchrun: every rank stops, rank 0 saves; `--resume` loads that checkpoint on every rank (a
    rank starting over would train on alone after the others end, and the job would fail)."""
    from roboforge.rl.checkpoints import checkpoint_iteration, latest_checkpoint

    run = sigterm_after_iterations(tmp_path, library=library, num_envs=32)
    checkpoint = latest_checkpoint(run)
    assert checkpoint is not None and checkpoint.suffix == SUFFIX[library], torchrun_output(run)
    assert json.loads((run / "summary.json").read_text())["interrupted"] is True
    _check_library_loads(library, checkpoint)

    total = checkpoint_iteration(checkpoint) + 3  # the run's own library, worlds and overrides
    code, out, err = run_torchrun(["--resume", "--run-dir", str(run), "--max-iterations", str(total)])
    assert code == 0, torchrun_failure(err)
    assert (out + err).count("resuming") == 1, "rank 0 alone says so"
    assert latest_checkpoint(run).name == f"model_{total - 1}{SUFFIX[library]}"  # type: ignore[union-attr]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["iterations"] == total and summary["interrupted"] is False
