"""Cart-pole: a cart on a 1-D rail (slide joint) with a free-swinging pole (hinge), pole up at 0 rad."""

from __future__ import annotations

import mujoco

CARTPOLE_XML = """
<mujoco model="cartpole">
  <compiler angle="radian"/>
  <option timestep="0.008333333" integrator="implicitfast"/>
  <default>
    <geom contype="0" conaffinity="0"/>
  </default>
  <worldbody>
    <geom name="rail" type="capsule" fromto="-4 0 2 4 0 2" size="0.02" rgba="0.4 0.4 0.4 1"/>
    <body name="cart" pos="0 0 2">
      <joint name="slider_to_cart" type="slide" axis="1 0 0" range="-4 4"/>
      <geom name="cart" type="box" size="0.2 0.15 0.1" mass="1.0" rgba="0.2 0.5 0.8 1"/>
      <body name="pole" pos="0 0.2 0">
        <joint name="cart_to_pole" type="hinge" axis="0 1 0"/>
        <geom name="pole" type="capsule" fromto="0 0 0 0 0 1.25" size="0.04" mass="0.1" rgba="0.9 0.6 0.2 1"/>
      </body>
    </body>
  </worldbody>
</mujoco>
"""


def cartpole_spec() -> mujoco.MjSpec:
    """MjSpec of the cart-pole (no actuators: the asset config adds them)."""
    return mujoco.MjSpec.from_string(CARTPOLE_XML)
