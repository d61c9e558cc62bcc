"""The cart-pole asset config: force on the cart, passive pole."""

from __future__ import annotations

from roboforge.assets import ArticulationCfg, BuiltinSpawnCfg, IdealPDActuatorCfg, InitialStateCfg
from roboforge.assets.builtin.cartpole import cartpole_spec


def cartpole_robot_cfg() -> ArticulationCfg:
    """Cart driven by a force actuator (with viscous damping), pole free to swing."""
    return ArticulationCfg(
        spawn=BuiltinSpawnCfg(builder=cartpole_spec),
        init_state=InitialStateCfg(joint_pos={"slider_to_cart": 0.0, "cart_to_pole": 0.0}),
        actuators={
            "cart": IdealPDActuatorCfg(
                joint_names_expr=["slider_to_cart"], stiffness=0.0, damping=10.0, effort_limit=400.0
            ),
        },
    )
