"""Files written atomically: through a temporary file in the same folder, renamed over the target, so a
crash or a full disk never leaves half a file (a model, a dataset shard, a recording) behind.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path


def write_atomically(path: str | os.PathLike, write, mode: str = "wb") -> None:
    """Write through a temporary file in the same folder, then rename it over `path`."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(descriptor, mode) as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o666 & ~_UMASK)  # mkstemp's 0600 would hide the file from others
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()  # read once at import: os.umask is process-wide and not safe to toggle later


def without_nan(value):
    """`value` with every NaN float as None: JSON has no NaN, and strict readers refuse Python's."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {key: without_nan(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [without_nan(item) for item in value]
    return value


def write_json_atomically(path: str | os.PathLike, data) -> None:
    """Write `data` as indented JSON, atomically; a NaN figure (an empty split's, a part that never ran)
    is written as null."""
    clean = without_nan(data)
    write_atomically(path, lambda handle: json.dump(clean, handle, indent=1, allow_nan=False), mode="w")
