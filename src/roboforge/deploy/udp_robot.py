"""Example network adapter: a robot that exchanges JSON datagrams over UDP.

This is the template for real hardware: the robot side (firmware, a vendor SDK bridge) sends a state
datagram whenever it has a new measurement and applies every command datagram it receives. The
controller announces itself with `{"subscribe": true}`; the robot sends its states to whoever
subscribed last.

    state   (robot -> controller): {"joint_names": [...], "joint_pos": [...], "joint_vel": [...],
                                    optional "base_quat_w", "base_lin_vel_b", "base_ang_vel_b",
                                    "base_pos_w", "object_pos_w": {"cube": [x, y, z]},
                                    "object_nodes_w": {"cube": [[x, y, z], ...]},
                                    "obstacles_w": [[x, y, radius], ...],
                                    "height_map_w": {"origin_xy": [x, y], "scale": s,
                                                     "heights": [[z, ...], ...]}}
    command (controller -> robot): {"seq": n, "joint_names": [...], "position": [...], "velocity": [...],
                                    "effort": [...], "stiffness": [...], "damping": [...], "hold": bool}

`height_map_w` is a local elevation map for a policy with a height scan (`terrain.HeightGrid`: heights[ix][iy]
of world z at world xy `origin_xy + scale * (ix, iy)`); the controller turns it into `RobotState.terrain_height_w`.
The controller stamps each state with its own clock when it reads it from the socket (the control loop
reads every period, so within one period of its arrival), so the safety watchdog measures how long
ago the robot was last heard from. `UdpRobotServer` is the robot side for testing: it serves
any `Robot` (e.g. `MujocoSimRobot`) over UDP, replying to each command with the new state.
"""

from __future__ import annotations

import json
import select
import socket
import threading
import time

import numpy as np

from roboforge.deploy.robot import JointCommand, Robot, RobotState
from roboforge.deploy.terrain import HeightGrid
from roboforge.utils.errors import UserInputError

MAX_DATAGRAM = 65507
"""Largest UDP payload (bytes) over IPv4."""
MAX_MAP_HALF_SIZE = 2.0
"""Largest local height map the test server sends (m from the base): 41 x 41 samples at 0.1 m, about 35 KB."""

_ARRAYS = ("base_quat_w", "base_lin_vel_b", "base_ang_vel_b", "base_pos_w", "obstacles_w")
"""Optional state fields sent as (nested) lists; `object_pos_w` and `object_nodes_w` (a deformable object's nodes)
are objects of lists by entity name."""


def state_to_json(state: RobotState, height_map: HeightGrid | None = None) -> bytes:
    """Encode a state datagram (floats round-trip exactly), with `height_map` as its `height_map_w` if given."""
    msg = {"joint_names": list(state.joint_names), "joint_pos": state.joint_pos.tolist(),
           "joint_vel": state.joint_vel.tolist()}  # fmt: skip
    for key in _ARRAYS:
        if getattr(state, key) is not None:
            msg[key] = getattr(state, key).tolist()
    for key in ("object_pos_w", "object_nodes_w"):
        by_name = getattr(state, key)
        if by_name is not None:
            msg[key] = {name: np.asarray(value).tolist() for name, value in by_name.items()}
    if height_map is not None:
        origin = [float(x) for x in height_map.origin_xy]
        msg["height_map_w"] = {
            "origin_xy": origin,
            "scale": height_map.scale,
            "heights": height_map.heights.tolist(),
        }
    return json.dumps(msg).encode()


def state_from_json(data: bytes, stamp: float) -> RobotState:
    """Decode a state datagram, stamped with the receiver's clock; a malformed one is one clear error."""
    try:
        return _decode_state(json.loads(data), stamp)
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise UserInputError(
            f"Malformed robot state datagram ({type(err).__name__}: {err}); expected JSON with joint_names, "
            "joint_pos, joint_vel (and optional base and scene fields), see roboforge/deploy/udp_robot.py."
        ) from None


def _decode_state(msg: dict, stamp: float) -> RobotState:
    state = RobotState(tuple(msg["joint_names"]), np.asarray(msg["joint_pos"], dtype=np.float64),
                       np.asarray(msg["joint_vel"], dtype=np.float64), stamp)  # fmt: skip
    for key in _ARRAYS:
        if key in msg:
            setattr(state, key, np.asarray(msg[key], dtype=np.float64))
    for key in ("object_pos_w", "object_nodes_w"):
        if key in msg:
            setattr(state, key, {name: np.asarray(v, dtype=np.float64) for name, v in msg[key].items()})
    if state.obstacles_w is not None:
        state.obstacles_w = state.obstacles_w.reshape(-1, 3)  # an empty list is no obstacles
    if "height_map_w" in msg:
        m = msg["height_map_w"]
        grid = HeightGrid(np.asarray(m["heights"], dtype=np.float64), (float(m["origin_xy"][0]),
                          float(m["origin_xy"][1])), float(m["scale"]))  # fmt: skip
        state.terrain_height_w = grid.height_at
    return state


def command_to_json(command: JointCommand, seq: int) -> bytes:
    """Encode a command datagram."""
    msg = {"seq": seq, "joint_names": list(command.joint_names), "hold": command.hold}
    for key in ("position", "velocity", "effort", "stiffness", "damping"):
        msg[key] = getattr(command, key).tolist()
    return json.dumps(msg).encode()


def command_from_json(data: bytes) -> tuple[int, JointCommand]:
    """Decode a command datagram: (sequence number, command)."""
    msg = json.loads(data)
    position, velocity, effort, stiffness, damping = (
        np.asarray(msg[k], dtype=np.float64)
        for k in ("position", "velocity", "effort", "stiffness", "damping")
    )
    return int(msg["seq"]), JointCommand(
        joint_names=tuple(msg["joint_names"]),
        position=position,
        velocity=velocity,
        effort=effort,
        stiffness=stiffness,
        damping=damping,
        hold=bool(msg["hold"]),
    )


class UdpJsonRobot:
    """Controller side of the UDP/JSON link; implements the `Robot` protocol."""

    def __init__(
        self,
        robot_addr: tuple[str, int],
        bind: tuple[str, int] = ("0.0.0.0", 0),
        state_timeout_s: float = 0.01,
    ):
        self.robot_addr = robot_addr
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(bind)
        self.sock.setblocking(False)
        self.state_timeout_s = state_timeout_s
        self.latest: RobotState | None = None
        self.fresh = False
        self.seq = 0
        self.subscribe()

    def subscribe(self) -> None:
        """Ask the robot to send its states here."""
        self.sock.sendto(b'{"subscribe": true}', self.robot_addr)

    def now(self) -> float:
        return time.monotonic()

    def _receive(self, timeout: float) -> None:
        """Take every queued datagram (the newest state wins), waiting up to `timeout` for the first."""
        ready, _, _ = select.select([self.sock], [], [], timeout)
        while ready:
            try:
                data, _ = self.sock.recvfrom(65536)
            except BlockingIOError:
                return
            self.latest, self.fresh = state_from_json(data, self.now()), True
            ready, _, _ = select.select([self.sock], [], [], 0.0)

    def read_state(self) -> RobotState:
        """The newest state; waits up to `state_timeout_s` for one newer than the last returned."""
        self._receive(0.0 if self.fresh else self.state_timeout_s)
        if self.latest is None:
            raise TimeoutError(
                f"No state from the robot at {self.robot_addr} yet; is it running and sending?"
            )
        self.fresh = False
        return self.latest

    def write_command(self, command: JointCommand) -> None:
        self.seq += 1
        self.sock.sendto(command_to_json(command, self.seq), self.robot_addr)

    def close(self) -> None:
        self.sock.close()


class UdpRobotServer:
    """Robot side for tests and demos: serves `robot` on UDP; each command is applied, then the state sent back.
    A simulated robot on a height-field terrain also sends the ground within `height_map_half_size` (m) of its
    base, as a real robot sends its local elevation map."""

    def __init__(
        self, robot: Robot, bind: tuple[str, int] = ("127.0.0.1", 0), height_map_half_size: float = 1.5
    ):
        if not 0.0 < height_map_half_size <= MAX_MAP_HALF_SIZE:
            raise UserInputError(
                f"height_map_half_size must be in (0, {MAX_MAP_HALF_SIZE}] m (a state datagram must fit UDP's "
                f"{MAX_DATAGRAM} bytes), got {height_map_half_size}."
            )
        self.robot = robot
        self.height_map_half_size = height_map_half_size
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(bind)
        self.address: tuple[str, int] = self.sock.getsockname()
        self.commands = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def send_state(self, to: tuple[str, int]) -> None:
        state = self.robot.read_state()
        data = state_to_json(state, self._local_map(state))
        if len(data) > MAX_DATAGRAM:
            raise UserInputError(
                f"The state datagram has {len(data)} bytes, more than UDP's {MAX_DATAGRAM}; lower "
                "height_map_half_size (the terrain is finer than 0.1 m)."
            )
        self.sock.sendto(data, to)

    def _local_map(self, state: RobotState) -> HeightGrid | None:
        grid = getattr(getattr(self.robot, "terrain", None), "grid", None)
        if not isinstance(grid, HeightGrid) or state.base_pos_w is None:
            return None
        return grid.window(state.base_pos_w[:2], self.height_map_half_size)

    def serve(self) -> None:
        """Answer a subscription with the current state and each command with the new one, until `stop()`."""
        while not self._stop.is_set():
            ready, _, _ = select.select([self.sock], [], [], 0.05)
            if not ready:
                continue
            data, sender = self.sock.recvfrom(65536)
            if json.loads(data).get("subscribe"):
                self.send_state(sender)
                continue
            _, command = command_from_json(data)
            self.robot.write_command(command)
            self.commands += 1
            self.send_state(sender)

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread = threading.Thread(target=self.serve, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        self.sock.close()
