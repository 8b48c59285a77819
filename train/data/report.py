"""What `duetto data build` prints about a dataset it built: the corpus by style and split, what was
skipped, and what was passed over, all read from the manifest."""

from __future__ import annotations

from duetto.train.data.shards import SPLITS

SHOWN_SKIPPED = 20  # a whole corpus can skip hundreds of tunes: the manifest lists them all
PART_COLUMNS = ("melody", "bass", "inner", "other")  # notes of each part (duetto.music.parts)
COLUMNS = ("style", "split", "pieces", "notes", "hours", "sequences", "tokens", *PART_COLUMNS)


def corpus_table(manifest: dict) -> list[str]:
    """One row per style present and split, then the totals per split. Notes and hours are the pieces'
    own; sequences and tokens count what the model trains on, augmented copies included; the last columns
    count the notes of each part."""
    rows = []
    for style in manifest["styles"]:
        by_split = manifest["style_counts"][style]
        if any(by_split[split]["pieces"] for split in SPLITS):
            rows.extend(_row(style, split, by_split[split]) for split in SPLITS)
    rows.extend(_row("all", split, manifest["splits"][split]) for split in SPLITS)
    widths = [max(len(column), *(len(row[index]) for row in rows)) for index, column in enumerate(COLUMNS)]
    lines = [_line(COLUMNS, widths)] + [_line(row, widths) for row in rows]
    return lines + ["(notes and hours: the pieces as read; sequences and tokens: augmented copies included; "
                    "melody to other: notes of each part)"]


def _row(style: str, split: str, counts: dict) -> tuple[str, ...]:
    parts = counts.get("part_notes", {})  # manifests written before parts were counted have none
    return (style, split, f"{counts['pieces']:,}", f"{counts['source_notes']:,}",
            f"{counts['source_seconds'] / 3600:.1f}", f"{counts['sequences']:,}", f"{counts['tokens']:,}",
            *(f"{parts[part]:,}" if part in parts else "-" for part in PART_COLUMNS))


def _line(cells: tuple[str, ...], widths: list[int]) -> str:
    """Names left-aligned, figures right-aligned, as a reader scans them."""
    text = [cell.ljust(width) if index < 2 else cell.rjust(width)
            for index, (cell, width) in enumerate(zip(cells, widths))]
    return "  ".join(text).rstrip()


def skipped_lines(manifest: dict, where: str) -> list[str]:
    """The items that could not be used, one line each (the first SHOWN_SKIPPED of them)."""
    skipped = manifest["skipped"]
    if not skipped:
        return ["skipped nothing"]
    lines = [f"skipped {len(skipped)} unreadable, empty or duplicate item{'s' if len(skipped) != 1 else ''}:"]
    lines += [f"  {item['name']}: {item['reason']}" for item in skipped[:SHOWN_SKIPPED]]
    if len(skipped) > SHOWN_SKIPPED:
        lines.append(f"  ... and {len(skipped) - SHOWN_SKIPPED} more, listed in {where}")
    return lines


def not_midi_line(manifest: dict) -> list[str]:
    """One line counting the files passed over for not being MIDI files, by extension: a folder's
    READMEs and PDFs are no news, one line each would bury what is."""
    counts = manifest["not_midi_files"]
    if not counts:
        return []
    total = sum(counts.values())
    kinds = ", ".join(f"{extension} {count}" for extension, count in counts.items())
    what = "files that are not MIDI files" if total != 1 else "file that is not a MIDI file"
    return [f"skipped {total} {what} ({kinds})"]


def malformed_events_line(manifest: dict, where: str) -> list[str]:
    """One line counting the malformed meta and SysEx events left out of files that were read all the same
    (a key signature in mode 255, a tempo of 0): their notes are in, and the line says it was not seamless."""
    counts = manifest["malformed_events"]
    if not counts:
        return []
    total, files = sum(counts.values()), len(counts)
    return [f"left out {total} malformed meta or SysEx event{'s' if total != 1 else ''} in {files} "
            f"file{'s' if files != 1 else ''} read all the same (listed in {where})"]


def estimated_beat_line(manifest: dict) -> list[str]:
    """How many MIDI files had their beat estimated from their onsets, their tempo map not fitting them."""
    names = manifest.get("estimated_beat", [])
    if not names:
        return []
    return [f"estimated the beat of {len(names)} MIDI file{'s' if len(names) != 1 else ''} from its notes "
            f"(no tempo map fits them, as when played without a click): {', '.join(names[:5])}"
            f"{', ...' if len(names) > 5 else ''}"]


def shared_openings_line(manifest: dict, where: str) -> list[str]:
    """How many pieces share their opening with another, kept together in one split."""
    groups = manifest["shared_openings"]
    if not groups:
        return []
    return [f"kept {sum(map(len, groups))} pieces that open alike together, {len(groups)} groups each in one "
            f"split (listed in {where})"]
