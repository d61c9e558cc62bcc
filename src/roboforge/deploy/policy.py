"""The exported network on ONNX Runtime (one CPU thread), carrying the recurrent state between steps; policies
that see images get one `(1, C, H, W)` buffer per image input beside the observation vector."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort

from roboforge.deploy.metadata import MetadataError, PolicyMetadata, metadata_of_session, resolve_policy


def session_options(threads: int = 1) -> ort.SessionOptions:
    """Single-threaded, sequential, no spinning: predictable latency on one core."""
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    so.log_severity_level = 3
    return so


class OnnxPolicy:
    """`act(obs) -> action` for one robot (batch 1); recurrent state kept inside, zeroed by `reset()`. The
    interface comes from the file's embedded metadata, or from `metadata` (a low-level policy's, which its file
    must fit)."""

    def __init__(self, path: str | Path, threads: int = 1, metadata: PolicyMetadata | None = None):
        path = resolve_policy(path)
        try:
            self.session = ort.InferenceSession(
                str(path), session_options(threads), providers=["CPUExecutionProvider"]
            )
        except Exception as err:
            raise MetadataError(f"ONNX Runtime cannot load {path}: {err}") from err
        self.metadata = metadata if metadata is not None else metadata_of_session(self.session, path)
        self.path, self.threads = path, threads
        self._check_io()
        self._bind()
        self.reset()

    def _bind(self) -> None:
        """Bind fixed numpy buffers to the inputs and outputs (IO binding: no per-call allocation)."""
        spec = self.metadata.policy
        self.obs = np.zeros((1, spec.obs_dim), dtype=np.float32)
        self.images = {i.name: np.zeros((1, *i.shape), dtype=np.float32) for i in spec.images}
        self.action = np.zeros((1, spec.action_dim), dtype=np.float32)
        rec = spec.recurrent
        shape = (rec.num_layers, 1, rec.hidden_size) if rec else (0,)
        self.state_in = [np.zeros(shape, dtype=np.float32) for _ in spec.state_inputs]
        self.state_out = [np.zeros(shape, dtype=np.float32) for _ in spec.outputs[1:]]
        self.binding = self.session.io_binding()
        if "obs" in spec.inputs:
            self.binding.bind_cpu_input("obs", self.obs)
        for name, buf in [*self.images.items(), *zip(spec.state_inputs, self.state_in, strict=True)]:
            self.binding.bind_cpu_input(name, buf)
        for name, buf in zip(spec.outputs, [self.action, *self.state_out], strict=True):
            self.binding.bind_output(name, "cpu", 0, np.float32, list(buf.shape), buf.ctypes.data)

    def _check_io(self) -> None:
        spec = self.metadata.policy
        inputs = [i.name for i in self.session.get_inputs()]
        outputs = [o.name for o in self.session.get_outputs()]
        if inputs != spec.inputs or outputs != spec.outputs:
            raise MetadataError(
                f"{self.path}: the network has inputs {inputs} / outputs {outputs} but its metadata says "
                f"{spec.inputs} / {spec.outputs}."
            )
        shapes = {i.name: i.shape for i in self.session.get_inputs()}
        if "obs" in shapes and shapes["obs"][-1] != spec.obs_dim:
            raise MetadataError(
                f"{self.path}: obs input {shapes['obs']} does not take {spec.obs_dim} values."
            )
        actions = self.session.get_outputs()[0].shape
        if isinstance(actions[-1], int) and actions[-1] != spec.action_dim:
            raise MetadataError(
                f"{self.path}: actions output {actions} does not give {spec.action_dim} values."
            )
        for image in spec.images:
            if list(shapes[image.name][1:]) != list(image.shape):
                raise MetadataError(
                    f"{self.path}: image input {image.name!r} {shapes[image.name]} does not take {image.shape} images."
                )

    def reset(self) -> None:
        """Zero the recurrent state (start of an episode)."""
        for buf in self.state_in:
            buf[:] = 0.0

    def act(self, obs: np.ndarray, images: dict[str, np.ndarray] | None = None) -> np.ndarray:
        """Action `(action_dim,)` float32 for one observation `(obs_dim,)` and, for image policies, one
        `(C, H, W)` image per image input; advances the recurrent state.

        The returned array is a buffer the next call overwrites.
        """
        self.obs[0] = obs
        for name, buf in self.images.items():
            if images is None or name not in images:
                raise MetadataError(f"{self.path}: the policy needs image input {name!r}; none was given.")
            buf[0] = images[name]
        self.session.run_with_iobinding(self.binding)
        for buf_in, buf_out in zip(self.state_in, self.state_out, strict=True):
            buf_in[:] = buf_out
        return self.action[0]
