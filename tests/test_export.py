"""`roboforge export`: ONNX/TorchScript parity with the training actor, file properties, metadata round trip."""

from __future__ import annotations

import json
import math

import mujoco
import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from typer.testing import CliRunner

from cli_util import one_line_error
from export_util import run_folder
from roboforge.cli import app
from roboforge.deploy.metadata import ONNX_METADATA_KEY, MetadataError, PolicyMetadata, load_metadata
from roboforge.export import ParityError, export_policy
from roboforge.export.jit_export import load_jit
from roboforge.export.parity import ParityResult, check_onnx
from roboforge.rl.checkpoints import save_checkpoint

LSTM = {
    "actor.rnn_type": "lstm",
    "actor.rnn_hidden_dim": 16,
    "critic.rnn_type": "lstm",
    "critic.rnn_hidden_dim": 16,
}
GRU = {"actor.rnn_type": "gru", "actor.rnn_hidden_dim": 16, "actor.rnn_num_layers": 2}


@pytest.fixture(scope="module")
def mlp_export(tmp_path_factory):
    """A random-weight cart-pole MLP exported to ONNX with --check: (session, ExportResult)."""
    folder = tmp_path_factory.mktemp("mlp")
    s, checkpoint = run_folder("cartpole", folder)
    return s, export_policy("cartpole", checkpoint, folder / "out", check=True)


def test_mlp_onnx_matches_actor_and_is_one_self_contained_file(mlp_export):
    _, result = mlp_export
    assert result.parity is not None and result.parity.passed
    assert result.parity.samples == 1000 and result.parity.max_abs_error <= 1e-5
    assert result.parity.max_scaled_error <= result.parity.max_abs_error
    assert sorted(p.name for p in result.output_dir.iterdir()) == ["policy.json", "policy.onnx", "scene.xml"]
    model = onnx.load(str(result.policy), load_external_data=False)
    assert not any(onnx.external_data_helper.uses_external_data(t) for t in model.graph.initializer)
    assert {o.version for o in model.opset_import if o.domain in ("", "ai.onnx")} <= {17, 18}
    assert [i.name for i in model.graph.input] == ["obs"] and [o.name for o in model.graph.output] == [
        "actions"
    ]
    batch = model.graph.input[0].type.tensor_type.shape.dim[0]
    assert batch.dim_param and not batch.dim_value, "the batch dimension must be dynamic"
    assert ONNX_METADATA_KEY in {p.key for p in model.metadata_props}
    session = ort.InferenceSession(str(result.policy), providers=["CPUExecutionProvider"])
    for n in (1, 7):
        assert session.run(None, {"obs": np.zeros((n, 4), np.float32)})[0].shape == (n, 1)


@pytest.mark.parametrize("kind,overrides", [("lstm", LSTM), ("gru", GRU)])
def test_recurrent_onnx_matches_actor_over_a_sequence(tmp_path, kind, overrides):
    _s, checkpoint = run_folder("cartpole", tmp_path, agent_overrides=overrides)
    result = export_policy("cartpole", checkpoint, tmp_path / "out", check=True)
    p = result.parity
    assert result.kind == kind and p is not None and p.passed
    assert (
        p.sequence_steps == 200 and p.sequence_max_abs_error is not None and p.sequence_max_abs_error <= 1e-5
    )
    model = onnx.load(str(result.policy))
    states = ["h", "c"] if kind == "lstm" else ["h"]
    assert [i.name for i in model.graph.input] == ["obs"] + [f"{x}_in" for x in states]
    assert [o.name for o in model.graph.output] == ["actions"] + [f"{x}_out" for x in states]
    meta = load_metadata(result.output_dir / "policy.json")
    layers = overrides.get("actor.rnn_num_layers", 1)
    assert meta.recurrent is not None and (meta.recurrent.type, meta.recurrent.num_layers) == (kind, layers)
    session = ort.InferenceSession(str(result.policy), providers=["CPUExecutionProvider"])
    feeds = {"obs": np.ones((3, 4), np.float32)} | {
        f"{x}_in": np.zeros((layers, 3, 16), np.float32) for x in states
    }
    out = session.run(None, feeds)
    assert out[0].shape == (3, 1) and all(o.shape == (layers, 3, 16) for o in out[1:])
    # the state matters: a second step from the returned state differs from a step from zeros
    again = session.run(None, feeds | {f"{x}_in": o for x, o in zip(states, out[1:], strict=True)})
    assert np.abs(again[0] - out[0]).max() > 1e-6


def test_parity_check_fails_when_the_file_differs(mlp_export, tmp_path):
    s, result = mlp_export
    model = onnx.load(str(result.policy))
    init = model.graph.initializer[-1]
    values = onnx.numpy_helper.to_array(init) + 1e-3
    init.CopyFrom(onnx.numpy_helper.from_array(values, init.name))
    onnx.save(model, str(tmp_path / "bad.onnx"))
    io_spec = json.loads(result.output_dir.joinpath("policy.json").read_text())["policy"]
    actor = s.learner.alg.get_policy()
    bad = check_onnx(actor, tmp_path / "bad.onnx", io_spec, dict(s.env.obs_dims))
    assert not bad.passed and bad.max_abs_error > 1e-5


@pytest.mark.parametrize("failure", ["ctrl-c", "parity"])
def test_a_failed_or_stopped_export_leaves_the_earlier_one_as_it_was(
    mlp_export, tmp_path, monkeypatch, failure
):
    """Exporting again over an export wrote policy.json first and policy.onnx in place: a stop in between, or
    a parity failure, left a new policy.json beside an old or torn policy.onnx. (A SIGTERM or kill ends the
    process before anything is moved in; the next export removes the staging folder it left, as below.)"""
    import roboforge.export.exporter as exporter

    _, result = mlp_export
    out = tmp_path / "exported"
    first = export_policy("cartpole", result.checkpoint, out)
    for path in out.iterdir():  # an earlier export that differs from what this one would write
        path.write_bytes(b"earlier " + path.name.encode())
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    stale = tmp_path / ".exported.staging-999999999"  # left by a process that was killed (no such pid)
    stale.mkdir()
    write_policy = exporter._write_policy

    def fail_while_writing(*args):
        policy, _ = write_policy(*args)
        if failure == "ctrl-c":
            raise KeyboardInterrupt
        bad = ParityResult("onnx", 1, 1.0, 0, None, max_scaled_error=1.0, tolerance=1e-5, passed=False)
        return policy, bad

    monkeypatch.setattr(exporter, "_write_policy", fail_while_writing)
    with pytest.raises(KeyboardInterrupt if failure == "ctrl-c" else ParityError) as err:
        export_policy("cartpole", result.checkpoint, out, check=True)
    if failure == "parity":
        assert f"({out / 'policy.onnx'}, not written)" in str(err.value)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exported"], "no staging folder is left"
    assert first.policy == out / "policy.onnx" and set(first.files) == {out / n for n in before}


def test_metadata_round_trip_and_values(mlp_export):
    s, result = mlp_export
    written = json.loads((result.output_dir / "policy.json").read_text())
    embedded = json.loads(
        {p.key: p.value for p in onnx.load(str(result.policy)).metadata_props}[ONNX_METADATA_KEY]
    )
    assert written == embedded
    meta = PolicyMetadata.from_dict(written)
    assert meta.to_dict() == written, "parse -> dict must give back the file"
    assert load_metadata(result.policy).to_dict() == written
    env, entity = s.env, s.env.scene["robot"]
    assert meta.task == "cartpole" and meta.control.decimation == 2
    assert math.isclose(meta.control.step_dt, env.step_dt) and meta.control.max_episode_length == 300
    assert meta.robot.joint_names == ["slider_to_cart", "cart_to_pole"]
    assert meta.robot.joint_pos_limits == [(-4.0, 4.0), (-math.inf, math.inf)]
    assert meta.robot.actuator == ["ideal_pd", "passive"]
    assert meta.robot.damping == [10.0, 0.0] and meta.robot.effort_limit == [400.0, math.inf]
    assert meta.robot.default_joint_pos == entity.default_joint_pos[0].tolist()
    [action] = meta.actions
    assert (action.type, action.joint_names, action.scale, action.offset) == (
        "joint_effort",
        ["slider_to_cart"],
        [100.0],
        [0.0],
    )
    assert [(t.name, t.func, t.dim, t.joint_names) for t in meta.observations or []] == [
        ("joint_pos", "joint_pos_rel", 2, ["slider_to_cart", "cart_to_pole"]),
        ("joint_vel", "joint_vel_rel", 2, ["slider_to_cart", "cart_to_pole"]),
    ]
    events = {e.name: e.params for e in meta.events}
    assert events["reset_cart"]["joint_names"] == ["slider_to_cart"]
    assert events["reset_cart"]["position_range"] == [-1.0, 1.0]
    terms = {t.name: t for t in meta.terminations}
    assert terms["time_out"].time_out and terms["cart_out_of_bounds"].params["bounds"] == [-3.0, 3.0]
    assert meta.training["iteration"] == 0 and meta.training["checkpoint"].endswith("model_0.pt")
    assert meta.roboforge_version and meta.policy.kind == "mlp" and meta.recurrent is None
    model = mujoco.MjModel.from_xml_string(meta.scene.mjcf)
    assert model.njnt == env.scene.model.njnt and model.nu == env.scene.model.nu


def test_metadata_from_another_version_or_inconsistent_is_rejected(mlp_export):
    _, result = mlp_export
    data = json.loads((result.output_dir / "policy.json").read_text())
    with pytest.raises(MetadataError, match="format 99 is not supported"):
        PolicyMetadata.from_dict(data | {"format_version": 99})
    with pytest.raises(MetadataError, match="Not roboforge policy metadata"):
        PolicyMetadata.from_dict(data | {"format": "other"})
    data["policy"]["obs_dim"] = 5
    with pytest.raises(MetadataError, match="add up to 4 values but the policy takes 5"):
        PolicyMetadata.from_dict(data)


def test_jit_export_matches_actor(tmp_path):
    _, checkpoint = run_folder("cartpole", tmp_path, agent_overrides=LSTM)
    result = export_policy("cartpole", checkpoint, tmp_path / "out", fmt="jit", check=True)
    assert result.policy.name == "policy.pt" and result.parity is not None and result.parity.passed
    assert result.parity.sequence_steps == 200
    module, meta = load_jit(result.policy)
    assert meta["policy"]["kind"] == "lstm" and hasattr(module, "reset")


def test_parity_observations_follow_the_actors_normalizer():
    """An actor that normalizes its observations is checked on observations from its running mean and std (a
    dimension with a tiny std would otherwise enter the network at ~1000 and amplify float32 rounding)."""
    from roboforge.export.parity import _random_obs

    gen = torch.Generator().manual_seed(0)
    plain = _random_obs(torch.nn.Identity(), 4000, 3, gen)
    assert plain.mean(0).abs().max() < 0.1 and (plain.std(0) - 1).abs().max() < 0.1

    class Normalized(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.obs_normalizer = torch.nn.Module()
            self.obs_normalizer._mean = torch.tensor([[5.0, -2.0, 0.1]])
            self.obs_normalizer._std = torch.tensor([[2.0, 0.5, 0.001]])

    obs = _random_obs(Normalized(), 4000, 3, gen)
    torch.testing.assert_close(obs.mean(0), torch.tensor([5.0, -2.0, 0.1]), atol=0.1, rtol=0.0)
    torch.testing.assert_close(obs.std(0), torch.tensor([2.0, 0.5, 0.001]), rtol=0.1, atol=0.0)


def test_observation_normalizer_is_baked_into_the_onnx_policy(tmp_path):
    """Lift and stack train with obs normalization: the exported file must apply the running statistics."""
    norm = {"actor.obs_normalization": True, "critic.obs_normalization": True}
    s, _ = run_folder("cartpole", tmp_path, agent_overrides=norm)
    normalizer = s.learner.alg.actor.obs_normalizer
    dim = normalizer._mean.shape[-1]
    with torch.no_grad():
        normalizer._mean.copy_(torch.linspace(-2.0, 2.0, dim))
        normalizer._std.copy_(torch.linspace(0.5, 3.0, dim))
        normalizer._var.copy_(normalizer._std**2)
    checkpoint = save_checkpoint(tmp_path, s.learner, 1, ".pt")
    result = export_policy("cartpole", checkpoint, tmp_path / "out", check=True)
    assert result.parity is not None and result.parity.passed
    obs = torch.randn(8, dim)
    onnx_actions = ort.InferenceSession(str(result.policy), providers=["CPUExecutionProvider"]).run(
        None, {"obs": obs.numpy()}
    )[0]
    normalizer.eval()  # in train mode a forward pass would update the statistics
    with torch.no_grad():
        expected = s.learner.alg.actor.mlp(normalizer(obs))
        unnormalized = s.learner.alg.actor.mlp(obs)
    assert np.allclose(onnx_actions, expected.numpy(), atol=1e-5)
    assert not np.allclose(onnx_actions, unnormalized.numpy(), atol=1e-3)


def test_direct_env_exports_without_observation_layout(tmp_path):
    from roboforge.deploy import PolicyRunner

    _, checkpoint = run_folder("cartpole-direct", tmp_path)
    result = export_policy("cartpole-direct", checkpoint, tmp_path / "out", check=True)
    assert result.parity is not None and result.parity.passed
    assert load_metadata(result.policy).observations is None
    with pytest.raises(MetadataError, match="direct env"):
        PolicyRunner.load(result.policy)


def test_export_errors_say_what_to_do(mlp_export, tmp_path):
    _s, result = mlp_export
    with pytest.raises(ValueError, match="--format must be one of onnx, jit"):
        export_policy("cartpole", result.checkpoint, tmp_path, fmt="tflite")
    with pytest.raises(FileNotFoundError, match="Checkpoint not found"):
        export_policy("cartpole", tmp_path / "missing.pt", tmp_path)
    _, checkpoint = run_folder("cartpole", tmp_path / "big", agent_overrides={"actor.hidden_dims": [8]})
    (tmp_path / "big" / "params" / "agent.json").unlink()  # without the run's agent config the shapes differ
    with pytest.raises(ValueError, match=r"does not fit the task.s rsl_rl networks .Missing key"):
        export_policy("cartpole", checkpoint, tmp_path / "out")
    assert not isinstance(ParityError("x"), RuntimeError)


def test_cli_export_json(mlp_export, tmp_path):
    _, result = mlp_export
    out = CliRunner().invoke(
        app,
        [
            "export",
            "cartpole",
            "--checkpoint",
            str(result.checkpoint.parent),
            "--output",
            str(tmp_path),
            "--check",
            "--json",
        ],
        env={"COLUMNS": "200", "NO_COLOR": "1"},
    )
    assert out.exit_code == 0, out.output
    payload = json.loads(out.stdout)
    assert payload["kind"] == "mlp" and payload["parity"]["passed"] and payload["parity"]["samples"] == 1000
    assert (tmp_path / "policy.onnx").is_file()
    bad = CliRunner().invoke(app, ["export", "cartpole", "--checkpoint", str(tmp_path / "nope.pt")])
    assert bad.exit_code == 2 and "Checkpoint not found" in bad.output


def test_cli_export_to_a_folder_it_cannot_create_names_that_folder(mlp_export):
    """Was '/proc/.x.staging-<pid>: No such file or directory': the hidden staging folder, not the output."""
    _, result = mlp_export
    out = CliRunner().invoke(
        app,
        ["export", "cartpole", "--checkpoint", str(result.checkpoint), "--output", "/proc/roboforge-export"],
        env={"COLUMNS": "200", "NO_COLOR": "1"},
    )
    one_line_error(out, "/proc/roboforge-export: ", "check the path", code=1)
    assert "staging" not in out.output


def test_cartpole_lstm_is_registered_and_trains(tmp_path):
    from roboforge.envs.registry import load_cfg
    from roboforge.rl.session import build_session
    from roboforge.rl.trainer import Trainer

    cfg = load_cfg("cartpole-lstm", "rsl_rl_cfg_entry_point")
    assert cfg.actor.rnn_type == "lstm" and cfg.critic.rnn_type == "lstm"
    s = build_session("cartpole-lstm", num_envs=32, device="cpu")
    assert s.learner.alg.get_policy().is_recurrent
    result = Trainer(s, tmp_path, max_iterations=2, quiet=True).train()
    assert result.iterations == 2 and result.checkpoint is not None


def test_a_state_dependent_std_actor_exports_its_mean(tmp_path):
    """`actor.state_dependent_std`: the network outputs mean and std; the exported policy is the mean alone,
    one action per observation, as with one std per action."""
    s, _ = run_folder("cartpole", tmp_path, agent_overrides={"actor.state_dependent_std": True})
    actor = s.learner.alg.actor
    with torch.no_grad():  # a std head that is not zero, so mean and std differ
        actor.mlp[-2].weight.normal_()
    checkpoint = save_checkpoint(tmp_path, s.learner, 1, ".pt")
    result = export_policy("cartpole", checkpoint, tmp_path / "out", check=True)
    assert result.parity is not None and result.parity.passed
    obs = torch.randn(8, actor.mlp[0].in_features)
    onnx_actions = ort.InferenceSession(str(result.policy), providers=["CPUExecutionProvider"]).run(
        None, {"obs": obs.numpy()}
    )[0]
    with torch.no_grad():
        output = actor.mlp(actor.obs_normalizer(obs))
    assert onnx_actions.shape == (8, 1)
    assert np.allclose(onnx_actions, output[:, 0, :].numpy(), atol=1e-5)
    assert not np.allclose(onnx_actions, output[:, 1, :].numpy(), atol=1e-3)
