"""Errors a user can cause, and the one place that turns them into a message and exit code 2.

Anything raised as a `TaggerError` is the user's to fix (a bad flag, a missing file, a malformed
corpus line), so the command line prints its one-line message instead of a traceback. Ctrl-C
ends with one line and exit code 130, as the shell's own convention for SIGINT has it.
"""

import argparse
import os
import sys
from functools import wraps

INTERRUPTED_EXIT_CODE = 130  # 128 + SIGINT


class TaggerError(Exception):
    """A problem the user can fix; the message names the problem and the fix."""


class CorpusFormatError(TaggerError):
    """A corpus file that does not parse; the message starts with `file:line:`."""

    def __init__(self, path, line, message):
        self.path, self.line = str(path), line
        super().__init__(f"{path}:{line}: {message}")


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, caught where the program could stop cleanly; the message says what was kept.

    A KeyboardInterrupt still, so code that calls `train` from Python sees what it expects."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse with its errors as TaggerErrors: one line, not a usage block that, for a command
    with thirty flags, buries the line that matters."""

    def error(self, message):
        raise TaggerError(f"{message}; see {self.prog} --help")


def cli(main):
    """Wrap a command-line `main` so a TaggerError ends the program with one line and exit code 2,
    and Ctrl-C with one line and exit code 130."""

    @wraps(main)
    def wrapper(argv=None):
        try:
            return main(argv)
        except TaggerError as e:
            print(f"error: {e}", file=sys.stderr)
            sys.exit(2)
        except KeyboardInterrupt as e:
            print(str(e) or "interrupted", file=sys.stderr)
            sys.exit(INTERRUPTED_EXIT_CODE)
        except BrokenPipeError:
            # The reader went away (`... | head`): stop quietly, as other tools do. Python would
            # otherwise fail again flushing stdout at exit, so stdout goes to /dev/null first.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(1)

    return wrapper
