"""MJCF models written by roboforge itself: no download, always available."""
