"""The TOML config file: jam options, CC mappings and named presets, read strictly and written atomically.

    [jam]                  # defaults for `duetto jam` options, by their long names with underscores
    temperature = 0.9
    key = "A:minor"

    [cc]                   # control or action -> CC number (see `duetto learn`)
    temperature = 21
    reroll = 64

    [presets.mellow]       # `--preset mellow`: options over [jam]
    temperature = 0.6
    density = 0.7

Every key is checked: an unknown table, option, control or value type is a one-line error that names it,
because a misspelt key silently ignored is a setting the musician thinks they have and do not.
Precedence: the command line, then the preset, then [jam], then the built-in defaults.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from duetto.atomic import write_atomically
from duetto.errors import DuettoError
from duetto.jam.controls import check_name

TABLES = ("jam", "cc", "presets")
BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


class ConfigError(DuettoError):
    """A config file Duetto refuses; the message is one line naming the file and the key."""


@dataclass
class Config:
    jam: dict[str, Any] = field(default_factory=dict)
    cc: dict[str, int] = field(default_factory=dict)  # control or action name -> CC number
    presets: dict[str, dict[str, Any]] = field(default_factory=dict)

    def options(self, preset: str | None) -> dict[str, Any]:
        """Option defaults: [jam] with the preset laid over it."""
        if preset is not None and preset not in self.presets:
            known = ", ".join(self.presets) or "none"
            raise ConfigError(f"no preset {preset!r} in the config (presets: {known})")
        return {**self.jam, **(self.presets[preset] if preset else {})}

    def cc_map(self) -> dict[int, str]:
        return {number: name for name, number in self.cc.items()}


def _check_options(path: Path, where: str, table: Any, option_types: dict[str, type]) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [{where}] must be a table")
    for key, value in table.items():
        if key not in option_types:
            raise ConfigError(f"{path}: unknown key {key!r} in [{where}] (options: {', '.join(sorted(option_types))})")
        wanted = option_types[key]
        fits = (isinstance(value, bool) if wanted is bool else
                isinstance(value, (int, float)) and not isinstance(value, bool) if wanted is float else
                isinstance(value, int) and not isinstance(value, bool) if wanted is int else
                isinstance(value, str))
        if not fits:
            raise ConfigError(f"{path}: {key} in [{where}] must be {wanted.__name__}, not {value!r}")
    return dict(table)


def read_config(path: str | Path, option_types: dict[str, type]) -> Config:
    """Read and check a config file; `option_types` maps each jam option to its type."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: not valid TOML ({error})") from None
    for key in raw:
        if key not in TABLES:
            raise ConfigError(f"{path}: unknown key {key!r} (tables: {', '.join(TABLES)})")
    config = Config(jam=_check_options(path, "jam", raw.get("jam", {}), option_types))
    cc = raw.get("cc", {})
    if not isinstance(cc, dict):
        raise ConfigError(f"{path}: [cc] must be a table")
    for name, number in cc.items():
        try:
            check_name(name)
        except ValueError as error:
            raise ConfigError(f"{path}: [cc] {error}") from None
        if isinstance(number, bool) or not isinstance(number, int) or not 0 <= number <= 127:
            raise ConfigError(f"{path}: [cc] {name} must be a CC number from 0 to 127, not {number!r}")
    numbers = list(cc.values())
    for number in numbers:
        if numbers.count(number) > 1:
            names = [name for name, other in cc.items() if other == number]
            raise ConfigError(f"{path}: [cc] CC {number} is mapped twice ({', '.join(names)})")
    config.cc = dict(cc)
    presets = raw.get("presets", {})
    if not isinstance(presets, dict):
        raise ConfigError(f"{path}: [presets] must hold tables like [presets.NAME]")
    config.presets = {name: _check_options(path, f"presets.{name}", table, option_types)
                      for name, table in presets.items()}
    return config


def _key(key: str) -> str:
    return key if BARE_KEY.match(key) else json.dumps(key)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(str(value), ensure_ascii=False)  # a JSON string is a valid TOML basic string


def _table(header: str, values: dict[str, Any]) -> list[str]:
    return [f"[{header}]", *(f"{_key(key)} = {_value(value)}" for key, value in values.items()), ""]


def format_config(config: Config) -> str:
    lines = ["# Duetto config: see `duetto jam --help` for the options, `duetto learn` for [cc]", ""]
    if config.jam:
        lines += _table("jam", config.jam)
    if config.cc:
        lines += _table("cc", config.cc)
    for name, values in config.presets.items():
        lines += _table(f"presets.{_key(name)}", values)
    return "\n".join(lines)


def write_config(path: str | Path, config: Config) -> None:
    """Write the config atomically (comments in an earlier version of the file are not kept)."""
    text = format_config(config)
    write_atomically(path, lambda handle: handle.write(text), mode="w")
