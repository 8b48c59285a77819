"""The producer half of `duetto`: `data build`, `train` and `export` (needs the `train` extra).

`live.cli` hands these commands over with their remaining arguments, so the runtime never imports torch.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys

import torch  # noqa: F401 - imported first so a runtime-only install fails here, with one clear line


def data_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="duetto data")
    actions = parser.add_subparsers(dest="action", required=True)
    build = actions.add_parser("build", help="read sources, split, augment, encode, write shards")
    build.add_argument("sources", nargs="+", help="MIDI folders and/or music21:bach")
    build.add_argument("--out", required=True, help="dataset folder to write")
    build.add_argument("--augment", type=int, default=4, help="augmented copies per training piece")
    build.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    from duetto.train.data.dataset import build_dataset

    manifest = build_dataset(args.sources, args.out, augment_copies=args.augment, seed=args.seed)
    for split, counts in manifest["splits"].items():
        print(f"{split:5s}: {counts['pieces']:5d} pieces, {counts['sequences']:6d} sequences, "
              f"{counts['tokens']:9d} tokens, {counts['seconds'] / 60:7.1f} minutes")
    skipped = manifest["skipped"]
    print(f"skipped {len(skipped)} files" + (":" if skipped else ""))
    for item in skipped:
        print(f"  {item['name']}: {item['reason']}")
    print(f"wrote {args.out}")
    return 0


def train_main(argv: list[str]) -> int:
    from duetto.train.loop import TrainSettings, train

    parser = argparse.ArgumentParser(prog="duetto train")
    parser.add_argument("--data", required=True, help="dataset folder from `duetto data build`")
    parser.add_argument("--out", required=True, help="run folder for checkpoints and metrics")
    parser.add_argument("--family", default="events")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--max-steps", type=int, default=None)
    parser.add_argument("--max-minutes", type=float, default=None,
                        help="stop after this much wall clock (the schedule still follows the steps)")
    parser.add_argument("--anneal-minutes", type=float, default=None,
                        help="a training-time budget: anneal the learning rate over this much wall clock and "
                             "stop at its end (for comparisons at equal training time)")
    parser.add_argument("--steps-per-epoch", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seq-len", type=int, default=256)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"],
                        help="where to train (auto: CUDA when PyTorch sees a GPU); under torchrun, one GPU a process")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    parser.add_argument("--model-config", default="{}",
                        help='JSON overrides of the family config, e.g. \'{"hidden_size": 512}\'')
    args = parser.parse_args(argv)
    settings = TrainSettings(
        data=args.data, out=args.out, family=args.family, epochs=args.epochs, max_steps=args.max_steps,
        max_minutes=args.max_minutes, anneal_minutes=args.anneal_minutes, steps_per_epoch=args.steps_per_epoch,
        batch_size=args.batch_size,
        seq_len=args.seq_len, learning_rate=args.lr, seed=args.seed, resume=args.resume,
        threads=args.threads, device=args.device, model=json.loads(args.model_config),
        command="duetto train " + shlex.join(argv),
    )
    summary = train(settings)
    if summary:  # under torchrun only rank 0 reports
        print(json.dumps(summary))
    return 0


def export_main(argv: list[str]) -> int:
    from duetto.export.onnx import ParityError, export
    from duetto.export.quantize import half_precision, heldout_nll, quantize_int8
    from duetto.model.step_model import StepModel

    parser = argparse.ArgumentParser(prog="duetto export")
    parser.add_argument("checkpoint", help="a best.pt from `duetto train`")
    parser.add_argument("--out", required=True, help="ONNX file to write")
    parser.add_argument("--parity-steps", type=int, default=500)
    parser.add_argument("--int8", default=None, metavar="PATH",
                        help="also write an int8 variant (faster on CPU) to PATH")
    parser.add_argument("--fp16", default=None, metavar="PATH",
                        help="also write an fp16 variant (for a GPU; slower on most CPUs) to PATH")
    parser.add_argument("--data", default=None,
                        help="dataset folder: report the test-split NLL of the export and of its variants")
    args = parser.parse_args(argv)
    try:
        export(args.checkpoint, args.out, parity_steps=args.parity_steps)
    except ParityError as error:
        print(f"duetto: error: {error}", file=sys.stderr)
        return 1
    if args.int8:
        quantize_int8(args.out, args.int8)
        print(f"wrote {args.int8} (int8 variant)", file=sys.stderr)
    if args.fp16:
        half_precision(args.out, args.fp16)
        print(f"wrote {args.fp16} (fp16 variant)", file=sys.stderr)
    if args.data:
        for path in filter(None, (args.out, args.int8, args.fp16)):
            nll = heldout_nll(StepModel(path, device="cpu"), args.data)
            print(f"{path}: test NLL {nll:.4f} nats/token (whole sequences, one step at a time)")
    return 0


def main(command: str, argv: list[str]) -> int:
    handlers = {"data": data_main, "train": train_main, "export": export_main}
    return handlers[command](argv)
