"""What an exported policy that sees images needs described: its image inputs and the cameras behind them.

An image input is one observation group `(C, H, W)` of rsl_rl's `CNNModel` (`obs_groups_2d`), made of image
terms (`mdp/images.py`) concatenated on channels, each with its frames stacked oldest first. The deploy
runtime renders each camera with C MuJoCo from the exported scene (`deploy/camera.py`) and rebuilds the
group from these entries. The runtime renders colour and depth only, so a policy that observes segmentation
(`segmentation_mask`) is refused here, with one line, rather than exported and then failing on the robot.
"""

from __future__ import annotations

from typing import Any

from roboforge.managers.term import params_with_defaults
from roboforge.mdp.images import segmentation_mask
from roboforge.sensors.camera import CameraSensor
from roboforge.utils.errors import UserInputError

IMAGE_DTYPE = "float32"
RESERVED_INPUTS = ("obs", "actions")


def image_groups(actor: Any) -> list[str]:
    """The image observation groups the actor reads, in its input order (none for MLP and RNN actors)."""
    return list(getattr(actor, "obs_groups_2d", None) or [])


def image_inputs(env: Any, actor: Any) -> list[dict[str, Any]]:
    """One entry per image group: ONNX input name (the group's), shape `(C, H, W)`, dtype, its terms."""
    groups = image_groups(actor)
    om = env.observation_manager if groups else None
    out = []
    for group in groups:
        if group in RESERVED_INPUTS:
            raise UserInputError(
                f"Observation group {group!r} holds images, and that name is the policy's {group!r} tensor; "
                "rename the group to export."
            )
        assert om is not None
        check_deployable(group, om.groups[group].terms)
        out.append(
            {
                "name": group,
                "shape": [int(x) for x in om.group_shapes[group]],
                "dtype": IMAGE_DTYPE,
                "terms": list(om.groups[group].terms),
            }
        )
    return out


def check_deployable(group: str, terms: dict[str, Any]) -> None:
    """One clear error when an image term of `group` reads what the deploy runtime cannot render."""
    for name, tcfg in terms.items():
        if tcfg.func is segmentation_mask:
            raise UserInputError(
                f"Image term {name!r} of group {group!r} observes segmentation, which the deploy runtime does "
                "not render (it renders rgb and depth); train with rgb or depth terms to export the policy."
            )


def camera_layout(env: Any, inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The camera sensors the image terms read: scene camera name, image size, outputs, field of view, period."""
    om, model = env.observation_manager, env.scene.model
    names: list[str] = []
    for item in inputs:
        for term in item["terms"]:
            tcfg = om.groups[item["name"]].terms[term]
            name = params_with_defaults(tcfg.func, tcfg.params).get("sensor_name")
            if name is not None and name not in names:
                names.append(name)
    out = []
    for name in names:
        sensor = env.scene.sensors.get(name)
        if not isinstance(sensor, CameraSensor):
            raise UserInputError(f"An image term reads camera sensor {name!r}, which the scene lacks.")
        cfg = sensor.cfg
        out.append(
            {
                "name": name,
                "camera": model.camera(sensor.camera_id).name,
                "width": cfg.width,
                "height": cfg.height,
                "rgb": cfg.rgb,
                "depth": cfg.depth,
                "fovy": float(model.cam_fovy[sensor.camera_id]),
                "update_period": cfg.update_period,
            }
        )
    return out
