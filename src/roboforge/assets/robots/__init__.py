"""Ready-made robot configs: built-in UR arms, Menagerie Franka Panda."""

from roboforge.assets.robots.franka import panda_cfg
from roboforge.assets.robots.universal_robots import ur5e_cfg, ur10e_cfg

__all__ = ["panda_cfg", "ur5e_cfg", "ur10e_cfg"]
