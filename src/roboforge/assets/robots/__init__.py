"""Ready-made robot configs: built-in UR, Kinova Gen3, xArm 6 and LBR iiwa 14 arms, Menagerie Franka Panda."""

from roboforge.assets.robots.franka import panda_cfg
from roboforge.assets.robots.kinova import kinova_gen3_cfg
from roboforge.assets.robots.kuka import iiwa14_cfg
from roboforge.assets.robots.ufactory import xarm6_cfg
from roboforge.assets.robots.universal_robots import ur5e_cfg, ur10e_cfg

__all__ = ["iiwa14_cfg", "kinova_gen3_cfg", "panda_cfg", "ur5e_cfg", "ur10e_cfg", "xarm6_cfg"]
