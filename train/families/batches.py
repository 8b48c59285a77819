"""Batches on the model's device. The windows hand out numpy arrays; every family's loss moves them with
`on_device`, so a model trains wherever it is (CPU, CUDA) by the same path, and counts of targets and notes
are taken from the arrays on the host, never read back from the device.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def device_of(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def on_device(array: np.ndarray, model: nn.Module) -> torch.Tensor:
    """A batch array as a tensor on the model's device."""
    return torch.from_numpy(np.ascontiguousarray(array)).to(device_of(model))
