"""Pictures of the simulation for people: frames of worlds (C MuJoCo's renderer, off screen) with the
commands drawn in, and MP4 videos of them."""

from roboforge.render.frames import RenderCfg, WorldRenderer
from roboforge.render.video import VideoWriter

__all__ = ["RenderCfg", "VideoWriter", "WorldRenderer"]
