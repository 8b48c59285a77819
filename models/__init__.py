"""The shipped models. `default.onnx` travels in the wheel as package data, found with importlib.resources,
so an installed Duetto plays from any folder; the other files here stay in the repository (see README.md).
"""

from importlib import resources
from pathlib import Path

DEFAULT_MODEL = Path(str(resources.files(__name__) / "default.onnx"))
# the event transformer, for playing in free time (`--model`); in the repository, not the wheel
EVENT_MODEL = Path(__file__).parent / "families" / "transformer.onnx"
