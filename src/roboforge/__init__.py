"""roboforge: train robot control policies in parallel MuJoCo worlds and export them to ONNX."""

import ctypes.util
import os

__version__ = "0.1.0"

if not os.environ.get("DISPLAY") and ctypes.util.find_library("EGL"):
    # MuJoCo picks its OpenGL platform when it is first imported: off screen (EGL) on a machine without a
    # display, so videos render headless. Only where libEGL exists: MuJoCo's import fails on a MUJOCO_GL
    # whose library is missing, and rendering then says which packages to install. A MUJOCO_GL the user
    # set wins.
    os.environ.setdefault("MUJOCO_GL", "egl")
