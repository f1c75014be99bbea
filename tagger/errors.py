"""Errors a user can cause, and the one place that turns them into a message and exit code 2.

Anything raised as a `TaggerError` is the user's to fix (a bad flag, a missing file, a malformed
corpus line), so the command line prints its one-line message instead of a traceback.
"""

import sys
from functools import wraps


class TaggerError(Exception):
    """A problem the user can fix; the message names the problem and the fix."""


class CorpusFormatError(TaggerError):
    """A corpus file that does not parse; the message starts with `file:line:`."""

    def __init__(self, path, line, message):
        self.path, self.line = str(path), line
        super().__init__(f"{path}:{line}: {message}")


def cli(main):
    """Wrap a command-line `main` so a TaggerError ends the program with one line and exit code 2."""

    @wraps(main)
    def wrapper(argv=None):
        try:
            return main(argv)
        except TaggerError as e:
            print(f"error: {e}", file=sys.stderr)
            sys.exit(2)

    return wrapper
