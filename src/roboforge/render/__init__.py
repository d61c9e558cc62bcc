"""Pictures of the simulation for people: frames of worlds (C MuJoCo's renderer, off screen) with the
commands drawn in, and MP4 videos of them."""

from roboforge.render.frames import RenderCfg, WorldRenderer
from roboforge.render.video import Clip, VideoWriter

__all__ = ["Clip", "RenderCfg", "VideoWriter", "WorldRenderer"]
