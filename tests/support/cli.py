"""`duetto` run in the test's own process, as `main(argv)`: quick, and a bug shows its real traceback."""

from __future__ import annotations

import pytest

from duetto.cli import main


def refusal(capsys: pytest.CaptureFixture, *argv: str) -> str:
    """`duetto ARGV` must refuse: status 1 and one line on stderr, "duetto: error: ..."; returns that line."""
    code = main(list(argv))
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(lines) == 1 and lines[0].startswith("duetto: error: "), (code, lines)
    return lines[0]
