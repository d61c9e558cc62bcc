"""Physics backends behind one `Simulator` protocol: MuJoCo Warp (GPU/CPU) and C MuJoCo (CPU)."""

from roboforge.sim.factory import make_simulator, resolve_backend
from roboforge.sim.simulator import SimCfg, Simulator

__all__ = ["SimCfg", "Simulator", "make_simulator", "resolve_backend"]
