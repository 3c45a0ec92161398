"""Who holds a TCP port on this host, said so that a refused start can name it.

    port_holder.py PORT

Prints one line: "deployment NAME (folder FOLDER, what)" when the port belongs to a deployment of
this project (a Docker container labelled with its deployment, or a native stack's nginx or
PostgreSQL, whose state folder says which deployment it is: ./stack writes STATE/deployment),
else "another program (pid N: COMMAND)", else "another program" (a process this user may not
look into). Stdlib only: ./stack runs it with the system python3.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

TCP_LISTEN = "0A"  # the st column of /proc/net/tcp for a listening socket
LABELS = (
    "sso.deployment",
    "com.docker.compose.project",
    "sso.deployment.folder",
    "com.docker.compose.project.working_dir",
    "com.docker.stack.namespace",
)
DOCKER_FORMAT = "\t".join([*(f'{{{{.Label "{label}"}}}}' for label in LABELS), "{{.Names}}"])


def docker_holder(port: int) -> str:
    """A container publishing the port, by the labels Compose, Swarm and compose.yaml give it."""
    if not shutil.which("docker"):
        return ""
    try:
        # (docker from PATH, as ./stack itself runs it; the arguments are fixed but the port.)
        listing = subprocess.run(  # noqa: S603
            ["docker", "ps", "--filter", f"publish={port}", "--format", DOCKER_FORMAT],  # noqa: S607
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return ""
    for line in listing.stdout.splitlines():
        deployment, project, folder, working_dir, stack, container = line.split("\t")
        name = deployment or project or stack
        if name:
            mode = f"Swarm stack {stack}" if stack else f"Docker Compose project {project}"
            return f"deployment {name} (folder {folder or working_dir or 'unknown'}, {mode}, container {container})"
        return f"the Docker container {container}"
    return ""


def listening_inodes(port: int) -> set[int]:
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == TCP_LISTEN and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(int(fields[9]))
    return inodes


def pids_holding(inodes: set[int]) -> list[int]:
    """Processes with one of the sockets open (only those this user may look into)."""
    sockets = {f"socket:[{inode}]" for inode in inodes}
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if any(os.readlink(fd) in sockets for fd in (entry / "fd").iterdir()):
                found.append(int(entry.name))
        except OSError:
            continue
    return sorted(found)


def state_folder(command: list[str]) -> Path | None:
    """The native stack's state folder, from its nginx's (-c STATE/nginx/nginx.conf) or
    PostgreSQL's (-D STATE/pg/data) command line."""
    flag = "-D" if "-D" in command[:-1] else "-c" if command[0].startswith("nginx") and "-c" in command[:-1] else ""
    return Path(command[command.index(flag) + 1]).parents[1] if flag else None


def describe(pid: int) -> tuple[str, bool]:
    """What the process is, and whether that names a deployment."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "", False
    command = raw.decode(errors="replace").rstrip("\0").split("\0")
    if len(command) == 1:  # nginx rewrites its title: "nginx: master process nginx -p ... -c ..."
        command = command[0].split()
    state = state_folder(command)
    identity = state / "deployment" if state else None
    if identity and identity.is_file():
        values = dict(line.split("=", 1) for line in identity.read_text().splitlines() if "=" in line)
        what = "its native PostgreSQL" if "-D" in command else "its native nginx"
        return f"deployment {values.get('SSO_DEPLOYMENT', '?')} (folder {values.get('folder', '?')}, {what})", True
    return f"another program (pid {pid}: {' '.join(command)[:120]})", False


def native_holder(port: int) -> str:
    """A deployment's native nginx or PostgreSQL if one holds the port (the master, not a worker)."""
    found = [describe(pid) for pid in pids_holding(listening_inodes(port))]
    named = [text for text, is_deployment in found if is_deployment]
    return (named or [text for text, _ in found if text] or [""])[0]


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not argv[0].isdigit():
        sys.exit(__doc__)
    port = int(argv[0])
    print(docker_holder(port) or native_holder(port) or "another program")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
