"""Read a ``.env`` file the way Docker Compose reads ``--env-file``.

One reader for every mode: ./stack (bash) exports what this prints, decouple reads
through it (sso_shared.environment.values), and Docker Compose reads the same file with the same rules,
so the native services, the containers and Django all get identical values.

The rules (https://docs.docker.com/compose/how-tos/environment-variables/variable-interpolation/):

- ``#`` starts a comment line; blank lines are ignored; ``export KEY=`` and ``KEY: value`` work too.
- Unquoted values end at `` #`` (a space, then ``#``); surrounding whitespace is trimmed.
- ``'single quotes'`` are literal; only ``\\'`` is unescaped.
- ``"double quotes"`` understand ``\\n \\t \\" \\\\ \\$`` and the other C escapes.
- Unquoted and double-quoted values interpolate ``$VAR``, ``${VAR}``, ``${VAR:-default}``,
  ``${VAR-default}``, ``${VAR:+alt}``, ``${VAR+alt}``, ``${VAR:?error}``, ``${VAR?error}``;
  ``$$`` is a literal ``$``. A variable is looked up in the process environment first, then
  among the keys defined above it in the file.
- A line with a key only (``KEY``) takes its value from the process environment.
- Keys starting with a digit are ignored.

Only the standard library is used: ./stack runs this with the system python3 before
the virtual environment exists (``python3 -I envfile.py FILE`` prints KEY=VALUE entries,
each ended by a NUL byte).
"""

import os
import re
import sys
from collections.abc import Callable, Mapping

__all__ = ["EnvFileError", "parse", "read_env_file"]

KEY_CHARS = re.compile(r"[\w.\-\[\]]+")
EXPORT_PREFIX = re.compile(r"export[ \t]+")
SPACES = " \t\v\f\r\x85\xa0"  # whitespace within a line (a newline ends the statement)
# Escapes in double-quoted values: Go's (as Compose's parser uses), plus \$ and \0NNN octal.
DOUBLE_QUOTED_ESCAPE = re.compile(r"\\([abfnrtv\"\\$]|0[0-7]{3})")
ESCAPED = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", '"': '"', "\\": "\\"}
NAME = re.compile(r"[_a-zA-Z][_a-zA-Z0-9]*")
BRACED = re.compile(r"([_a-zA-Z][_a-zA-Z0-9]*)(?:(:?[-+?])(.*))?", re.DOTALL)


class EnvFileError(ValueError):
    """The file is not valid .env syntax (Compose refuses it too)."""


Lookup = Callable[[str], str | None]


def read_env_file(path: str | os.PathLike, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """KEY -> value of the file at PATH; ``environ`` (default: os.environ) is used for interpolation."""
    with open(path, encoding="utf-8") as file:
        text = file.read()
    try:
        return parse(text, environ)
    except EnvFileError as error:
        raise EnvFileError(f"{path}: {error}") from None


def parse(text: str, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    environ = os.environ if environ is None else environ
    values: dict[str, str] = {}

    def lookup(name: str) -> str | None:
        return environ[name] if name in environ else values.get(name)

    parser = _Parser(text.removeprefix("\ufeff"), lookup)
    for key, value in parser.statements():
        if key[0].isdigit():
            continue
        values[key] = value
    return values


class _Parser:
    def __init__(self, text: str, lookup: Lookup):
        self.text, self.pos, self.lookup = text, 0, lookup

    def fail(self, message: str):
        line = self.text.count("\n", 0, self.pos) + 1
        raise EnvFileError(f"line {line}: {message}")

    def statements(self):
        while self.skip_blank_and_comments():
            key, inherited = self.key()
            if inherited:
                value = self.lookup(key)
                if value is not None:
                    yield key, value
                continue
            yield key, self.value()

    def skip_blank_and_comments(self) -> bool:
        while True:
            while self.pos < len(self.text) and self.text[self.pos].isspace():
                self.pos += 1
            if self.pos >= len(self.text):
                return False
            if self.text[self.pos] != "#":
                return True
            end = self.text.find("\n", self.pos)
            self.pos = len(self.text) if end < 0 else end

    def key(self) -> tuple[str, bool]:
        """The key and whether it stands alone on its line (its value then comes from the environment)."""
        if match := EXPORT_PREFIX.match(self.text, self.pos):
            self.pos = match.end()
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] not in "=:\n":
            self.pos += 1
        key = self.text[start : self.pos].rstrip(SPACES)
        at_end = self.pos >= len(self.text) or self.text[self.pos] == "\n"
        if not key or not KEY_CHARS.fullmatch(key):
            self.fail(f"{key!r} is not a valid variable name")
        if not at_end:
            self.pos += 1  # past = or :
        return key, at_end

    def value(self) -> str:
        while self.pos < len(self.text) and self.text[self.pos] in SPACES:
            self.pos += 1
        quote = self.text[self.pos] if self.pos < len(self.text) else ""
        if quote not in ("'", '"'):
            return self.unquoted()
        raw = self.quoted(quote)
        if quote == "'":
            return raw.replace("\\'", "'")
        return self.interpolate(DOUBLE_QUOTED_ESCAPE.sub(_unescape, raw))

    def unquoted(self) -> str:
        end = self.text.find("\n", self.pos)
        end = len(self.text) if end < 0 else end
        line, self.pos = self.text[self.pos : end], end
        return self.interpolate(line.split(" #", 1)[0].rstrip())

    def quoted(self, quote: str) -> str:
        """The text between the quotes. As in Compose, what follows the closing quote is read
        as the next statement (usually nothing, or a # comment)."""
        start = self.pos + 1
        end = start
        while True:
            end = self.text.find(quote, end)
            if end < 0:
                self.fail(f"unterminated quoted value {self.text[self.pos :].splitlines()[0]}")
            backslashes = end - len(self.text[start:end].rstrip("\\")) - start
            if backslashes % 2 == 0:
                break
            end += 1
        self.pos = end + 1
        return self.text[start:end]

    def interpolate(self, value: str) -> str:
        try:
            return _substitute(value, self.lookup)
        except EnvFileError as error:
            self.fail(str(error))


def _unescape(match: re.Match) -> str:
    code = match.group(1)
    if code == "$":
        return "$$"  # as Compose does: interpolation then makes it one literal $
    if code[0] == "0":
        number = int(code[1:], 8)
        return chr(number) if number < 256 else match.group(0)
    return ESCAPED[code]


def _substitute(value: str, lookup: Lookup) -> str:
    """Compose's interpolation of one value."""
    out, i = [], 0
    while (dollar := value.find("$", i)) >= 0:
        out.append(value[i:dollar])
        following = value[dollar + 1 : dollar + 2]
        if following == "$":
            out.append("$")
            i = dollar + 2
        elif following == "{":
            close = _matching_brace(value, dollar + 1)
            out.append(_braced(value[dollar + 2 : close], value[dollar : close + 1], lookup))
            i = close + 1
        elif name := NAME.match(value, dollar + 1):
            out.append(lookup(name.group()) or "")
            i = name.end()
        else:  # a $ before anything else stays as it is
            out.append("$")
            i = dollar + 1
    out.append(value[i:])
    return "".join(out)


def _matching_brace(value: str, open_at: int) -> int:
    depth = 0
    for index in range(open_at, len(value)):
        if value[index] == "{":
            depth += 1
        elif value[index] == "}":
            depth -= 1
            if depth == 0:
                return index
    raise EnvFileError(f"invalid interpolation {value[open_at - 1 :]!r}")


def _braced(inner: str, whole: str, lookup: Lookup) -> str:
    match = BRACED.fullmatch(inner)
    if not match:
        raise EnvFileError(f"invalid interpolation {whole!r}")
    name, operator, argument = match.groups()
    current = lookup(name)
    if operator is None:
        return current or ""
    is_set = bool(current) if operator.startswith(":") else current is not None
    if operator[-1] == "-":
        return current if is_set else _substitute(argument, lookup)
    if operator[-1] == "+":
        return _substitute(argument, lookup) if is_set else ""
    if not is_set:  # ? and :? mean required
        message = _substitute(argument, lookup)
        raise EnvFileError(f"required variable {name} is missing a value" + (f": {message}" if message else ""))
    return current


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: envfile.py FILE  (prints KEY=VALUE entries, each ended by a NUL byte)", file=sys.stderr)
        return 2
    try:
        values = read_env_file(argv[1])
    except (OSError, EnvFileError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for key, value in values.items():
        sys.stdout.write(f"{key}={value}\0")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
