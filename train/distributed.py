"""Training on several processes: one per GPU (or two CPU processes for the test) under `torchrun`.

`torchrun --nproc_per_node N -m duetto train ...` starts N copies of the same command with RANK and
WORLD_SIZE in their environment. Each copy samples its own batches (its own random stream), the
gradients are averaged by DistributedDataParallel, and only the first copy (rank 0) validates, writes
checkpoints and prints. Without torchrun everything here is a no-op for one process.
"""

from __future__ import annotations

import os

import torch
from torch import distributed as dist
from torch import nn


class Cluster:
    def __init__(self, device: str = "auto") -> None:
        self.world_size = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if device == "cuda":
            if not torch.cuda.is_available():
                raise ValueError("--device cuda: PyTorch sees no CUDA device")
            torch.cuda.set_device(local_rank)
            self.device = torch.device("cuda", local_rank)
        else:
            self.device = torch.device("cpu")
        if self.world_size > 1:
            dist.init_process_group("nccl" if self.device.type == "cuda" else "gloo")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def wrap(self, model: nn.Module) -> nn.Module:
        """The model to train: on its device, and under DistributedDataParallel when there are several."""
        model = model.to(self.device)
        if self.world_size == 1:
            return model
        return nn.parallel.DistributedDataParallel(model, device_ids=[self.device.index] if self.device.type == "cuda" else None)

    def any(self, flag: bool) -> bool:
        """Whether any process says yes: so all stop together (a lone process left would wait forever)."""
        if self.world_size == 1:
            return flag
        value = torch.tensor([float(flag)], device=self.device)
        dist.all_reduce(value, op=dist.ReduceOp.MAX)
        return bool(value.item())

    def gather(self, value) -> list:
        """Every process's `value`, in rank order (one-item list for one process)."""
        if self.world_size == 1:
            return [value]
        values = [None] * self.world_size
        dist.all_gather_object(values, value)
        return values

    def barrier(self) -> None:
        if self.world_size > 1:
            dist.barrier()

    def check_replicas_agree(self, model: nn.Module) -> None:
        """DDP keeps every copy of the weights identical; verify it before the run is called done."""
        checksum = float(sum(parameter.double().sum().item() for parameter in model.parameters()))
        sums = self.gather(checksum)
        if max(sums) - min(sums) > 1e-6 * max(1.0, abs(sums[0])):
            raise RuntimeError(f"the {self.world_size} training processes ended with different weights: {sums}")

    def close(self) -> None:
        if self.world_size > 1 and dist.is_initialized():
            dist.destroy_process_group()
