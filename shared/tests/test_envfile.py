"""The .env reader follows Docker Compose's rules (the examples are Compose's own, from its docs)."""

import subprocess
import sys

import pytest

from sso_shared.environment import envfile
from sso_shared.environment.envfile import EnvFileError, parse, read_env_file


def value(line: str, **environ: str) -> str:
    return parse(line + "\n", environ)["VAR"]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("VAR=VAL", "VAL"),
        ('VAR="VAL"', "VAL"),
        ("VAR='VAL'", "VAL"),
        ("VAR=VAL # comment", "VAL"),
        ("VAR=VAL# not a comment", "VAL# not a comment"),
        ("VAR=VAL\t# a tab is not a space", "VAL\t# a tab is not a space"),
        ('VAR="VAL # not a comment"', "VAL # not a comment"),
        ('VAR="VAL" # comment', "VAL"),
        ("VAR='$OTHER'", "$OTHER"),
        ("VAR='${OTHER}'", "${OTHER}"),
        ("VAR='Let\\'s go!'", "Let's go!"),
        ('VAR="{\\"hello\\": \\"json\\"}"', '{"hello": "json"}'),
        ('VAR="some\\tvalue"', "some\tvalue"),
        ("VAR='some\\tvalue'", "some\\tvalue"),
        ("VAR=some\\tvalue", "some\\tvalue"),
        ("VAR=   padded on both sides   ", "padded on both sides"),
        ("VAR=", ""),
        ("VAR=#not a comment either", "#not a comment either"),
    ],
)
def test_quotes_and_comments(line, expected):
    assert value(line) == expected


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('VAR="a\\\\b \\$OTHER \\n"', "a\\b $OTHER \n"),
        ('VAR="\\0101 \\x41 \\q"', "A \\x41 \\q"),  # octal works; escapes Compose lacks stay as written
        ("VAR='a\\\\'", "a\\\\"),
    ],
)
def test_escapes(line, expected):
    assert value(line) == expected


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("VAR=$OTHER-${OTHER}", "o-o"),
        ('VAR="[$OTHER]"', "[o]"),
        ("VAR=$$OTHER $${OTHER}", "$OTHER ${OTHER}"),
        ("VAR=${UNSET}", ""),
        ("VAR=${UNSET:-fallback} ${EMPTY:-fallback} [${EMPTY-unused}]", "fallback fallback []"),
        ("VAR=${OTHER:+alt}${EMPTY:+no}${EMPTY+yes}${UNSET+no}", "altyes"),
        ("VAR=${UNSET:-${OTHER}x}y", "oxy"),
        ("VAR=price: 5$ or $1", "price: 5$ or $1"),
        ("VAR=${OTHER:?must be set}", "o"),
    ],
)
def test_interpolation(line, expected):
    assert value(line, OTHER="o", EMPTY="") == expected


def test_a_variable_is_looked_up_in_the_environment_first_then_above_in_the_file():
    text = "FIRST=from-file\nSECOND=$FIRST\nTHIRD=$LATER\nLATER=late\n"
    assert parse(text, {}) == {"FIRST": "from-file", "SECOND": "from-file", "THIRD": "", "LATER": "late"}
    assert parse(text, {"FIRST": "from-env"})["SECOND"] == "from-env"


def test_statement_forms():
    text = (
        "\ufeff# comment\n\n  LEADING=1\nexport EXPORTED=2\nYAML: 3\nSPACED = 4\nDUP=old\nDUP=new\n"
        "1DIGIT=ignored\nFROM_ENV\nNOT_IN_ENV\nMULTI=\"one\ntwo\"\nCRLF=crlf \r\nQUOTED='q'\r\n"
    )
    assert parse(text, {"FROM_ENV": "inherited"}) == {
        "LEADING": "1",
        "EXPORTED": "2",
        "YAML": "3",
        "SPACED": "4",
        "DUP": "new",
        "FROM_ENV": "inherited",
        "MULTI": "one\ntwo",
        "CRLF": "crlf",
        "QUOTED": "q",
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('OK=1\nVAR="never closed\n', r"line 2: unterminated quoted value"),
        ("MY VAR=1\n", r"line 1: 'MY VAR' is not a valid variable name"),
        ("VAR=${BROKEN\n", r"invalid interpolation"),
        ("VAR=${1}\n", r"invalid interpolation"),
        ("VAR=${UNSET:?set it in .env}\n", r"required variable UNSET is missing a value: set it in .env"),
    ],
)
def test_what_compose_refuses_is_refused_with_the_line(text, message):
    with pytest.raises(EnvFileError, match=message):
        parse(text, {})


def test_read_env_file_names_the_file(tmp_path):
    path = tmp_path / "site.env"
    path.write_text("A='x'\nB=\"y\n")
    with pytest.raises(EnvFileError, match=rf"{path}: line 2"):
        read_env_file(path, {})


def test_the_command_line_prints_nul_separated_entries_with_the_system_python(tmp_path):
    """./stack runs the file itself with python3 -I: no package, no Django, no venv needed."""
    path = tmp_path / ".env"
    path.write_text('A=\'has # and "quotes"\'\nB="two\nlines" # comment\n')
    command = [sys.executable, "-I", envfile.__file__, str(path)]
    result = subprocess.run(command, capture_output=True, text=True, check=True, env={})  # noqa: S603 (our own file)
    assert result.stdout == 'A=has # and "quotes"\0B=two\nlines\0'


def test_the_command_line_says_what_is_wrong(tmp_path):
    path = tmp_path / ".env"
    path.write_text("A='open\n")
    command = [sys.executable, "-I", envfile.__file__, str(path)]
    result = subprocess.run(command, capture_output=True, text=True, env={})  # noqa: S603 (our own file)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == f"error: {path}: line 1: unterminated quoted value 'open\n"
