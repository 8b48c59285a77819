"""The one base of every error a user can put right, and the command line's promise about it.

A `DuettoError` is something the person at the keyboard can fix: an option out of range, a file or program
that is missing, a port that went away. `duetto` prints its message, one line, and exits with status 1.
Any other exception is a bug in Duetto, and shows as one: a traceback.
"""

from __future__ import annotations

from typing import Callable, TypeVar

T = TypeVar("T")


class DuettoError(Exception):
    """Something the user can fix; the message says what, and how, in one line."""


class UsageError(DuettoError):
    """A command-line option or argument that cannot be used as given."""


def usage(check: Callable[..., T], *args: object) -> T:
    """`check(*args)`, its ValueError a UsageError: the lower layers check what they are given (a key's
    name, a tempo) in one line naming where it came from, and know nothing of users."""
    try:
        return check(*args)
    except ValueError as error:
        raise UsageError(str(error)) from None
