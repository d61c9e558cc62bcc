"""Physics backends behind one `Simulator` protocol: MuJoCo Warp (GPU/CPU) and C MuJoCo (CPU)."""

from roboforge.sim.simulator import SimCfg, Simulator, make_simulator, resolve_backend

__all__ = ["SimCfg", "Simulator", "make_simulator", "resolve_backend"]
