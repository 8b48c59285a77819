"""Model families: one module each, with `Config`, `build(config_dict)` and a `StepGraph` for export."""

from __future__ import annotations

from importlib import import_module
from types import ModuleType

FAMILIES = ("events",)


def load_family(name: str) -> ModuleType:
    """The module of a family by name, or a one-line error listing the known ones."""
    if name not in FAMILIES:
        raise ValueError(f"unknown model family {name!r}; known: {', '.join(FAMILIES)}")
    return import_module(f"train.families.{name}")
