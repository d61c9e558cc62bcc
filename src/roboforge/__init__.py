"""roboforge: train robot control policies in parallel MuJoCo worlds and export them to ONNX."""

__version__ = "0.1.0"
