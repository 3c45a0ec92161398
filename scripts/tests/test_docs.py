"""The documentation cannot drift from what runs.

- docs/settings.md describes every variable of .env.example (and no .env variable it lacks), with
  the same default.
- Every relative link of README.md and docs/*.md leads to a file that exists.
- Every command in a fenced block marked ```` ```sh runnable ```` is run by a test. Starting a stack
  takes minutes, so such a command is either run here (RUN_HERE: quick, touching nothing but a
  checkout, changing nothing) or named in EXERCISED with the test that runs it, whose source must still hold
  the command's words (so removing the command from that test fails here). Blocks without the
  mark are examples (a placeholder path, output), not instructions.
"""

import re
import subprocess

import pytest

from .conftest import ROOT

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SETTINGS = ROOT / "docs" / "settings.md"
ENV_EXAMPLE = ROOT / ".env.example"
ONLY_IN_STACK_ENVIRONMENT = "## Only in ./stack's environment"

FIRST_RUN = "scripts/first_run/test_first_run.py"
FAILED_START = "scripts/tests/test_failed_start.py"
# Command (as the docs show it) -> the test file that runs it, and words its source must hold.
EXERCISED = {
    "./stack up": (FIRST_RUN, '"./stack", "up", check=False'),
    "./stack up --native": (FIRST_RUN, '"./stack", "up", "--native"'),
    "./stack up --compose": (FIRST_RUN, '"./stack", "up", "--compose"'),
    "./stack down": (FIRST_RUN, '"./stack", "down")'),
    "./stack down --volumes": (FIRST_RUN, '"./stack", "down", "--volumes"'),
    "./stack status": (FIRST_RUN, '"./stack", "status"'),
    "./stack manage a createsuperuser": (FIRST_RUN, '"./stack", "manage", "a", "createsuperuser"'),
    "./stack env": (FAILED_START, 'run_stack("env", env=env)'),
    "./stack env --force": (FAILED_START, 'run_stack("env", "--force"'),
    "docker compose up -d --build --wait": (FIRST_RUN, '"docker", "compose", "up", "-d", "--build", "--wait"'),
    "docker compose down": (FIRST_RUN, 'run(clone, "docker", "compose", "down")'),
    # ./stack test is what CI runs: .ci/run is its test.
    "./stack test": (".ci/run", "./stack test"),
}
# Quick commands this test runs itself, in the checkout: each reads, prints and changes nothing.
RUN_HERE = {
    "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'",
    "./stack help",
}


def without_html_comments(text: str) -> str:
    return re.sub(r"<!--.*?-->", "", text, flags=re.DOTALL)


# --- settings.md and .env.example ----------------------------------------------------


def env_example_variables() -> dict[str, str]:
    """NAME -> default, from `NAME=value` and commented-out `# NAME=value` lines."""
    found = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if match := re.fullmatch(r"#? ?([A-Z][A-Z0-9_]+)=(.*)", line.strip()):
            found.setdefault(match.group(1), match.group(2).strip())
    return found


def documented_variables() -> dict[str, str]:
    """NAME -> its default cell, from the tables of settings.md above "Only in ./stack's environment"."""
    text = SETTINGS.read_text().split(ONLY_IN_STACK_ENVIRONMENT)[0]
    found = {}
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[0].startswith("`"):
            continue
        for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", cells[0]):
            found[name] = cells[1]
    return found


def test_settings_md_describes_every_variable_of_env_example():
    documented = documented_variables()
    missing = sorted(set(env_example_variables()) - set(documented))
    assert not missing, (
        f"{', '.join(missing)} in .env.example but not in docs/settings.md: add a row "
        "(| `NAME` | default | what it does |) to one of its tables."
    )


def test_every_env_variable_of_settings_md_is_in_env_example():
    extra = sorted(set(documented_variables()) - set(env_example_variables()))
    assert not extra, (
        f"{', '.join(extra)} described in docs/settings.md but not in .env.example: add it there "
        f"(commented out, with its default), or move it under {ONLY_IN_STACK_ENVIRONMENT!r}."
    )


def test_defaults_agree():
    documented = documented_variables()
    differing = [
        f"{name}: .env.example says {default!r}, docs/settings.md says {documented[name]!r}"
        for name, default in env_example_variables().items()
        if default
        and "change-me" not in default
        and name in documented
        and f"`{default}`" not in documented[name]
        # A path or file name in .env.example is an example, not a default.
        and "/" not in default
    ]
    assert not differing, "defaults differ:\n" + "\n".join(differing)


# --- links ---------------------------------------------------------------------------


@pytest.mark.parametrize("page", DOCS, ids=lambda path: str(path.relative_to(ROOT)))
def test_relative_links_lead_to_files(page):
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", without_html_comments(page.read_text())):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        if not (page.parent / target.split("#")[0]).exists():
            broken.append(target)
    assert not broken, f"{page.relative_to(ROOT)} links to missing files: {broken}"


# --- the commands of ./stack -----------------------------------------------------------

OPERATIONS = ROOT / "docs" / "operations.md"


def stack_help() -> list[str]:
    """The command lines of `./stack help` (from the first `./stack ...` line on), unindented."""
    result = subprocess.run([str(ROOT / "stack"), "help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    first = next(index for index, line in enumerate(lines) if line.startswith("  ./stack "))
    return [line.removeprefix("  ") for line in lines[first:]]


def stack_commands() -> list[str]:
    return [line.split()[1] for line in stack_help() if line.startswith("./stack ")]


def test_operations_md_lists_every_command_as_stack_help_does():
    text = OPERATIONS.read_text().split("## The `./stack` commands", 1)[1]
    documented = re.search(r"```\n(.*?)```", text, flags=re.DOTALL).group(1).splitlines()
    missing = sorted(set(stack_commands()) - {line.split()[1] for line in documented if line.startswith("./stack ")})
    assert not missing, f"docs/operations.md does not list: {', '.join(missing)}"
    assert documented == stack_help(), (
        "the command list of docs/operations.md differs from ./stack help: copy the lines of "
        "./stack help (from the first ./stack line, unindented) into its first block"
    )


@pytest.mark.parametrize("command", stack_commands())
def test_every_command_prints_its_usage_with_help(command):
    for flag in ("--help", "-h"):
        result = subprocess.run([str(ROOT / "stack"), command, flag], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, f"./stack {command} {flag}: {result.stderr}"
        assert result.stdout.lstrip().startswith(f"./stack {command}"), result.stdout


# --- commands marked runnable --------------------------------------------------------


def runnable_commands() -> list[tuple[str, str]]:
    """(where, command) for each command line of each ```sh runnable block."""
    found = []
    for page in DOCS:
        text = without_html_comments(page.read_text())
        for block in re.finditer(r"^[ \t]*```sh runnable\n(.*?)^[ \t]*```", text, flags=re.DOTALL | re.MULTILINE):
            line_number = text[: block.start()].count("\n") + 2
            joined = block.group(1).replace("\\\n", " ")
            for offset, line in enumerate(joined.splitlines()):
                command = re.sub(r"\s+#.*$", "", line).strip()
                if command and not command.startswith("#"):
                    found.append((f"{page.relative_to(ROOT)}:{line_number + offset}", " ".join(command.split())))
    return found


def test_the_front_page_shows_the_commands_a_newcomer_needs():
    commands = {command for where, command in runnable_commands() if where.startswith("README.md")}
    assert {"./stack up", "./stack test", "./stack env", "docker compose up -d --build --wait"} <= commands


def test_every_runnable_command_is_run_by_a_test():
    unknown = [
        f"{where}: {command}"
        for where, command in runnable_commands()
        if command not in EXERCISED and command not in RUN_HERE
    ]
    assert not unknown, (
        "commands marked runnable that no test runs (add each to EXERCISED in scripts/tests/test_docs.py "
        "with the test that runs it, or to RUN_HERE if it is quick and harmless):\n" + "\n".join(unknown)
    )


@pytest.mark.parametrize("command", sorted(EXERCISED))
def test_the_test_named_for_a_command_still_runs_it(command):
    path, words = EXERCISED[command]
    source = " ".join((ROOT / path).read_text().split())
    assert " ".join(words.split()) in source, f"{path} no longer runs `{command}` (looked for {words!r})"


@pytest.mark.parametrize("command", sorted({command for _, command in runnable_commands()} & RUN_HERE))
def test_quick_runnable_commands_run(command):
    result = subprocess.run(["bash", "-c", command], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"`{command}` failed:\n{result.stdout}\n{result.stderr}"
