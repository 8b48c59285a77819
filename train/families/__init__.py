"""Model families: one module each, all behind the same training loop, export path and live interface.

A family module provides:

    FAMILY          its name
    UNIT            what one prediction target is ("token", "note", ...), for reports in nats per UNIT
    Config          a dataclass of hyperparameters with `to_dict()`
    build(config)   the `nn.Module` (its `.config` is the Config) from a dict of overrides
    windows(data_dir, split, seq_len, train)
                    one split of a built dataset as training examples: `sample_batch(rng, n)`,
                    `eval_batches(n)` (every target exactly once) and `num_tokens` (targets in the split)
    loss(model, batch) -> (nats, targets, notes)
                    the summed negative log-likelihood of a batch, how many targets it covers and how many
                    notes those targets hold, so every family can also be read in bits per note
    StepGraph       the single-step module exported to ONNX (state in, state out); it may offer
                    `for_export()`, a module computing the same step faster, exported in its place (the
                    export's parity check then holds that module's graph to the StepGraph itself)
"""

from __future__ import annotations

from importlib import import_module
from types import ModuleType

from duetto.families import family


def load_family(name: str) -> ModuleType:
    """The training module of a family by name (the registry in duetto.families), or a one-line error
    listing the known ones."""
    return import_module(family(name).trainer)
