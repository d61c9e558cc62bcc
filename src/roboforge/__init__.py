"""roboforge: train robot control policies in parallel MuJoCo worlds and export them to ONNX."""

import os

__version__ = "0.1.0"

if not os.environ.get("DISPLAY"):
    # MuJoCo picks its OpenGL platform when it is first imported: off screen (EGL) on a machine without a
    # display, so videos render headless; a MUJOCO_GL the user set wins.
    os.environ.setdefault("MUJOCO_GL", "egl")
