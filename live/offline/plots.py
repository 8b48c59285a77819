"""Pictures without a plotting library: a piano roll of notes and a line chart of curves, as PNG files.

A PNG is a zlib-compressed list of pixel rows behind a few checksummed chunks, simple enough to write
with the standard library, so neither the runtime nor training needs matplotlib for a picture.
"""

from __future__ import annotations

import os
import struct
import zlib
from typing import Sequence

import numpy as np

from duetto.atomic import write_atomically
from duetto.music.notes import Note

BACKGROUND = (255, 255, 255)
GRID = (225, 225, 225)
PALETTE = [(52, 101, 164), (204, 0, 0), (78, 154, 6), (245, 121, 0), (117, 80, 123), (0, 0, 0)]


def png_bytes(image: np.ndarray) -> bytes:
    """An RGB image [height, width, 3] of uint8 as the bytes of a PNG file."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError("expected an RGB image [height, width, 3] of uint8")
    height, width, _ = image.shape

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = np.concatenate([np.zeros((height, 1), dtype=np.uint8), image.reshape(height, width * 3)], axis=1)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows.tobytes(), 9))
            + chunk(b"IEND", b""))


def write_png(path: str | os.PathLike, image: np.ndarray) -> None:
    data = png_bytes(image)
    write_atomically(path, lambda handle: handle.write(data))


def piano_roll(tracks: dict[str, Sequence[Note]], pixels_per_second: int = 50, pixels_per_pitch: int = 4,
               ) -> np.ndarray:
    """Each track's notes as bars in its own colour (pitch up, time right), with a line every second
    and at every C; the pitch range is cut to the notes present, with a margin."""
    notes = [note for track in tracks.values() for note in track]
    if not notes:
        raise ValueError("nothing to draw: no notes")
    low = max(0, min(n.pitch for n in notes) - 2)
    high = min(127, max(n.pitch for n in notes) + 2)
    width = int(np.ceil(max(n.end for n in notes) * pixels_per_second)) + 1
    height = (high - low + 1) * pixels_per_pitch
    image = np.full((height, width, 3), BACKGROUND, dtype=np.uint8)
    image[:, ::pixels_per_second] = GRID
    for pitch in range(low, high + 1):
        if pitch % 12 == 0:
            image[(high - pitch + 1) * pixels_per_pitch - 1] = GRID
    for colour, track in zip(PALETTE * 4, tracks.values()):
        for note in track:
            top = (high - note.pitch) * pixels_per_pitch
            left = int(note.start * pixels_per_second)
            right = max(left + 1, int(note.end * pixels_per_second))
            image[top:top + pixels_per_pitch - 1, left:right] = colour
    return image


def line_chart(series: dict[str, Sequence[tuple[float, float]]], width: int = 640, height: int = 360,
               ) -> np.ndarray:
    """Curves of (x, y) points, each in its own colour, scaled together to fill the frame, with ten
    grid lines each way. Points whose y is not finite are left out."""
    clean = {name: [(x, y) for x, y in points if np.isfinite(y)] for name, points in series.items()}
    every = [point for points in clean.values() for point in points]
    if not every:
        raise ValueError("nothing to draw: no finite points")
    xs, ys = np.array([p[0] for p in every]), np.array([p[1] for p in every])
    x_low, x_high = xs.min(), max(xs.max(), xs.min() + 1e-9)
    y_low, y_high = ys.min(), max(ys.max(), ys.min() + 1e-9)
    image = np.full((height, width, 3), BACKGROUND, dtype=np.uint8)
    for fraction in np.linspace(0, 1, 11):
        image[int(fraction * (height - 1))] = GRID
        image[:, int(fraction * (width - 1))] = GRID

    def to_pixel(x: float, y: float) -> tuple[float, float]:
        return (x - x_low) / (x_high - x_low) * (width - 1), (1 - (y - y_low) / (y_high - y_low)) * (height - 1)

    for colour, points in zip(PALETTE * 4, clean.values()):
        pixels = [to_pixel(x, y) for x, y in points]
        for (x0, y0), (x1, y1) in zip(pixels, pixels[1:] or pixels):
            count = int(max(abs(x1 - x0), abs(y1 - y0))) + 1
            for t in np.linspace(0, 1, count + 1):
                col, row = int(round(x0 + (x1 - x0) * t)), int(round(y0 + (y1 - y0) * t))
                image[max(0, row - 1):row + 2, max(0, col - 1):col + 2] = colour
    return image
