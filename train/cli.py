"""The producer half of `duetto`: `data build`, `train` and `export` (needs the `train` extra).

`duetto.cli` hands these commands over with their remaining arguments, so the runtime never imports torch.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

import torch  # noqa: F401 - imported first so a runtime-only install fails here, with one clear line


def data_main(argv: list[str]) -> int:
    """`duetto data build`: every option is checked (one line naming it and what is allowed) before any
    source is read, and the report ends with the corpus by style and split."""
    from duetto.train.data import music21_corpus, report
    from duetto.train.data.corpus import MIDI_EXTENSIONS
    from duetto.train.data.dataset import build_dataset
    from duetto.train.data.pieces import FOLDER_STYLE, STYLES

    parser = argparse.ArgumentParser(prog="duetto data")
    actions = parser.add_subparsers(dest="action", required=True)
    build = actions.add_parser(
        "build", help="read sources, split, augment, encode, write shards",
        description="Read the sources, drop duplicates (by bytes and by notes), split 80/10/10 by a hash of each "
                    "piece (pieces that open alike share a split; every style of 3 or more pieces reaches valid "
                    "and test), augment the training pieces, encode, and write the shards and manifest.json. "
                    "music21's scores are parsed once (minutes, on 2 processes) and cached in $DUETTO_CACHE "
                    "(default ~/.cache/duetto).",
        epilog="music21's collections by style: " + "; ".join(
            f"{style}: {', '.join(names)}" for style, names in music21_corpus.collections_by_style().items()))
    build.add_argument("sources", nargs="+", metavar="SOURCE",
                       help=f"what to read: a folder (every {'/'.join(MIDI_EXTENSIONS)} file under it, other files "
                            f"counted and passed over), one MIDI file, {music21_corpus.ALL} (every collection "
                            "listed below), or music21:NAME for one of them")
    build.add_argument("--out", required=True, metavar="FOLDER",
                       help="dataset folder to write (created if missing; a dataset in it is replaced)")
    build.add_argument("--augment", type=int, default=4, metavar="N",
                       help="augmented copies of each training piece (transposed, stretched in tempo, humanized), "
                            "0 or more (default: %(default)s)")
    build.add_argument("--seed", type=int, default=0, metavar="N",
                       help="seed of the augmentation, 0 or more; the split does not depend on it (default: %(default)s)")
    build.add_argument("--style", default=FOLDER_STYLE, metavar="NAME",
                       help=f"style of the folder and file sources (music21's collections carry their own): one of "
                            f"{', '.join(STYLES)}, or a new lowercase name, added after them (default: %(default)s)")
    build.add_argument("--limit", type=int, default=None, metavar="N",
                       help="read at most N pieces from each source (from each collection of music21:all), "
                            "1 or more, for quick trials (default: all)")
    args = parser.parse_args(argv)
    manifest = build_dataset(args.sources, args.out, augment_copies=args.augment, seed=args.seed,
                             limit=args.limit, style=args.style)
    where = f"{args.out}/manifest.json"
    lines = [*report.corpus_table(manifest), *report.skipped_lines(manifest, where), *report.not_midi_line(manifest),
             *report.malformed_events_line(manifest, where), *report.shared_openings_line(manifest, where),
             *report.estimated_beat_line(manifest)]
    print("\n".join(lines))
    for warning in manifest["warnings"]:
        print(f"duetto: warning: {warning}", file=sys.stderr)
    print(f"wrote {args.out}")
    return 0


def positive(kind: type):
    """An argparse type: a number above zero, or one line saying what is allowed."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"{text} is not above zero")
        return value
    return parse


def train_parser() -> argparse.ArgumentParser:
    from duetto.families import FAMILIES
    from duetto.models import DEFAULT_MODEL

    parser = argparse.ArgumentParser(prog="duetto train", description="Train a model on a built dataset.")
    parser.add_argument("--data", required=True, help="dataset folder from `duetto data build`")
    parser.add_argument("--out", required=True, help="run folder for checkpoints (best.pt, last.pt) and metrics")
    parser.add_argument("--family", default="events", choices=list(FAMILIES),
                        help="the model family (default events): " + "; ".join(
                            f"{name}: {family.summary}" for name, family in FAMILIES.items()))
    parser.add_argument("--init", nargs="?", const=str(DEFAULT_MODEL.with_suffix(".pt")), default=None,
                        metavar="CKPT", help="fine-tune: start from this checkpoint's weights (without a path: "
                                             "the shipped model's, models/default.pt); same family only")
    parser.add_argument("--epochs", type=positive(int), default=20,
                        help="passes over the train split, as --steps-per-epoch counts them (default 20)")
    parser.add_argument("--steps-per-epoch", type=positive(int), default=None,
                        help="optimizer steps between validations (default: one pass of the train split's tokens)")
    parser.add_argument("--max-steps", type=positive(int), default=None, help="stop after this many steps")
    parser.add_argument("--max-minutes", type=positive(float), default=None,
                        help="stop after this much wall clock (the schedule still follows the steps)")
    parser.add_argument("--anneal-minutes", type=positive(float), default=None,
                        help="a training-time budget: anneal the learning rate over this much wall clock and "
                             "stop at its end (for comparisons at equal training time)")
    parser.add_argument("--batch-size", type=positive(int), default=32, help="windows per step (default 32)")
    parser.add_argument("--seq-len", type=positive(int), default=256,
                        help="window length in the family's units (tokens, notes or frames; default 256)")
    parser.add_argument("--lr", type=positive(float), default=2e-3,
                        help="peak learning rate, after warm-up (default 0.002)")
    parser.add_argument("--seed", type=int, default=0, help="random seed: the same seed and data repeat a run")
    parser.add_argument("--threads", type=positive(int), default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"],
                        help="where to train (auto: CUDA when PyTorch sees a GPU); under torchrun, one GPU a process")
    parser.add_argument("--valid-batches", type=positive(int), default=None,
                        help="validate on the valid split's first this many batches (default: all of it)")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    parser.add_argument("--model-config", default="{}",
                        help='JSON overrides of the family config, e.g. \'{"hidden_size": 512}\'')
    return parser


def train_main(argv: list[str]) -> int:
    from duetto.train.loop import TrainSettings, train

    parser = train_parser()
    args = parser.parse_args(argv)
    try:
        overrides = json.loads(args.model_config)
    except ValueError as error:
        raise ValueError(f"--model-config: not JSON ({error})") from None
    if not isinstance(overrides, dict):
        raise ValueError("--model-config: give a JSON object, like {\"hidden_size\": 512}")
    if not (Path(args.data) / "manifest.json").is_file():
        raise ValueError(f"--data {args.data}: no dataset there (build one with `duetto data build`)")
    if args.init is not None and not Path(args.init).is_file():
        raise ValueError(f"--init {args.init}: no such checkpoint")
    settings = TrainSettings(
        data=args.data, out=args.out, family=args.family, epochs=args.epochs, max_steps=args.max_steps,
        max_minutes=args.max_minutes, anneal_minutes=args.anneal_minutes, steps_per_epoch=args.steps_per_epoch,
        batch_size=args.batch_size,
        seq_len=args.seq_len, learning_rate=args.lr, seed=args.seed, resume=args.resume,
        threads=args.threads, device=args.device, model=overrides, init=args.init,
        valid_batches=args.valid_batches,
        command="duetto train " + shlex.join(argv),
    )
    summary = train(settings)
    if summary:  # under torchrun only rank 0 reports; an empty split's figures are null, never NaN
        print(json.dumps(summary, allow_nan=False))
    return 0


def export_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="duetto export", description="Export a checkpoint to ONNX for Duetto.")
    parser.add_argument("checkpoint", help="a checkpoint from `duetto train`: RUN/best.pt, or RUN/last.pt")
    parser.add_argument("--out", required=True, help="ONNX file to write")
    parser.add_argument("--parity-steps", type=positive(int), default=500,
                        help="closed-loop steps over which the ONNX graph must match PyTorch (default 500)")
    parser.add_argument("--int8", default=None, metavar="PATH",
                        help="also write an int8 variant (faster on CPU) to PATH")
    parser.add_argument("--fp16", default=None, metavar="PATH",
                        help="also write an fp16 variant (for a GPU; slower on most CPUs) to PATH")
    parser.add_argument("--data", default=None,
                        help="dataset folder: report the test-split NLL of the export and of its variants")
    return parser


def export_main(argv: list[str]) -> int:
    from duetto.export.onnx import ParityError, export
    from duetto.export.quantize import half_precision, heldout_nll, quantize_int8
    from duetto.encodings.metrical import ENCODING_NAME as METRICAL
    from duetto.model.step_model import StepModel
    from duetto.train.data.shards import read_manifest

    parser = export_parser()
    args = parser.parse_args(argv)
    if not Path(args.checkpoint).is_file():
        raise ValueError(f"{args.checkpoint}: no such checkpoint")
    if args.data is not None:
        try:
            read_manifest(args.data)  # before the export, not after it
        except ValueError as error:
            raise ValueError(f"--data {error}")
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
            unit = "note" if StepModel(path, device="cpu").info.encoding == METRICAL else "token"
            print(f"{path}: test NLL {nll:.4f} nats/{unit} (whole sequences, one step at a time)")
    return 0


def main(command: str, argv: list[str]) -> int:
    handlers = {"data": data_main, "train": train_main, "export": export_main}
    return handlers[command](argv)
