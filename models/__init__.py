"""The shipped models. `default.onnx` travels as package data, found with importlib.resources, so an installed
Duetto plays from any folder."""
