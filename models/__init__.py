"""The shipped models. `default.onnx` travels in the wheel as package data, found with importlib.resources,
so an installed Duetto plays from any folder; the other files here stay in the repository (see README.md).
"""

from importlib import resources
from pathlib import Path

DEFAULT_MODEL = Path(str(resources.files(__name__) / "default.onnx"))
