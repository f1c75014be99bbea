"""Errors a user can cause, and the one place that turns them into a message and exit code 2.

Anything raised as a `TaggerError` is the user's to fix (a bad flag, a missing file, a malformed
corpus line), so the command line prints its one-line message instead of a traceback. Ctrl-C
ends with one line and exit code 130, as the shell's own convention for SIGINT has it, and a
SIGTERM that training caught (from `timeout`, a batch scheduler, Kubernetes) with 143.
"""

import argparse
import os
import signal
import sys
from functools import wraps

INTERRUPTED_EXIT_CODE = 128 + signal.SIGINT  # 130, the shell's convention: 128 + the signal


class TaggerError(Exception):
    """A problem the user can fix; the message names the problem and the fix."""


class CorpusFormatError(TaggerError):
    """A corpus file that does not parse; the message starts with `file:line:`."""

    def __init__(self, path, line, message):
        self.path, self.line = str(path), line
        super().__init__(f"{path}:{line}: {message}")


class Interrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM, caught where the program could stop cleanly; the message says what was
    kept, `exit_code` is 128 + the signal's number.

    A KeyboardInterrupt still, so code that calls `train` from Python sees what it expects."""

    def __init__(self, message="", signum=signal.SIGINT):
        super().__init__(message)
        self.exit_code = 128 + signum


class ArgumentParser(argparse.ArgumentParser):
    """argparse with its errors as TaggerErrors: one line, not a usage block that, for a command
    with thirty flags, buries the line that matters."""

    def error(self, message):
        raise TaggerError(f"{message}; see {self.prog} --help")

    def require_at_least(self, args, **least):
        """The one-line error for the first of these flags below its least value."""
        for name, bound in least.items():
            if getattr(args, name) < bound:
                self.error(f"--{name.replace('_', '-')} must be at least {bound}, got "
                           f"{getattr(args, name)}")


def cli(main):
    """Wrap a command-line `main` so a TaggerError ends the program with one line and exit code 2,
    and Ctrl-C with one line and exit code 130 (143 for a SIGTERM that training caught)."""

    @wraps(main)
    def wrapper(argv=None):
        try:
            return main(argv)
        except TaggerError as e:
            print(f"error: {e}", file=sys.stderr)
            sys.exit(2)
        except KeyboardInterrupt as e:
            print(str(e) or "interrupted", file=sys.stderr)
            sys.exit(getattr(e, "exit_code", INTERRUPTED_EXIT_CODE))
        except BrokenPipeError:
            # The reader went away (`... | head`): stop quietly, as other tools do. Python would
            # otherwise fail again flushing stdout at exit, so stdout goes to /dev/null first.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(1)

    return wrapper
