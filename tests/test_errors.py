"""Tests for tagger.errors: the `cli` wrapper turns user errors into one line and exit code 2, Ctrl-C
into one line and exit code 130 (SIGTERM 143), and argparse's errors into user errors."""

import re
import signal

import pytest

from tagger.errors import (INTERRUPTED_EXIT_CODE, ArgumentParser, CorpusFormatError, Interrupted,
                           TaggerError, cli)


def run(main, capsys):
    with pytest.raises(SystemExit) as info:
        cli(main)([])
    return info.value.code, capsys.readouterr()


def raising(error):
    def main(argv):
        raise error
    return main


@pytest.mark.parametrize("error,line", [
    (TaggerError("--epochs must be at least 1, got 0"), "error: --epochs must be at least 1, got 0"),
    (CorpusFormatError("a.txt", 3, "expected word/TAG, got 'x'"),
     "error: a.txt:3: expected word/TAG, got 'x'"),
])
def test_a_user_error_is_one_line_on_stderr_and_exit_code_2(capsys, error, line):
    code, out = run(raising(error), capsys)
    assert code == 2 and out.out == "" and out.err == line + "\n"


@pytest.mark.parametrize("error,line", [
    (Interrupted("interrupted: best model so far (epoch 3, dev 90.00%) is in m; continue with "
                 "--resume"),
     "interrupted: best model so far (epoch 3, dev 90.00%) is in m; continue with --resume"),
    (KeyboardInterrupt(), "interrupted"),
])
def test_ctrl_c_is_one_line_and_exit_code_130(capsys, error, line):
    code, out = run(raising(error), capsys)
    assert code == INTERRUPTED_EXIT_CODE == 130 and out.err == line + "\n"


def test_a_caught_sigterm_is_one_line_and_exit_code_143(capsys):
    code, out = run(raising(Interrupted("interrupted: nothing was saved", signal.SIGTERM)), capsys)
    assert code == 143 and out.err == "interrupted: nothing was saved\n"


def test_other_exceptions_are_bugs_and_keep_their_traceback():
    with pytest.raises(ZeroDivisionError):
        cli(raising(ZeroDivisionError()))([])


def test_success_returns_what_main_returns():
    assert cli(lambda argv: argv)(["x"]) == ["x"]


@pytest.mark.parametrize("argv,message", [
    (["--size", "big"], "argument --size: invalid int value: 'big'; see prog --help"),
    # Python versions quote the choices differently.
    (["--colour", "red"], "argument --colour: invalid choice: 'red' (choose from .*blue.*green.*); "
                          "see prog --help"),
    (["--surprise"], "unrecognized arguments: --surprise; see prog --help"),
])
def test_argument_errors_are_user_errors_in_one_line(argv, message):
    parser = ArgumentParser(prog="prog")
    parser.add_argument("--size", type=int)
    parser.add_argument("--colour", choices=("blue", "green"))
    with pytest.raises(TaggerError) as info:
        parser.parse_args(argv)
    assert re.fullmatch(re.escape(message).replace(r"\.\*", ".*"), str(info.value))
