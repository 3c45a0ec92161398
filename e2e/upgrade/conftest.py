"""Upgrade tests: a site on the previous Django patch release, upgraded to the pinned one; a site of
the previous release of this project (previous-release.txt), upgraded to this one.

Each starts a deployment of its own, next to the one the rest of e2e/ tests, and
runs only where ./stack test asks for it (E2E_UPGRADE_PORT_BASE, and the target).
"""

import os
from pathlib import Path

from e2e.deployment.conftest import throwaway_project  # noqa: F401  (a fixture of the Compose upgrade test)

ROOT = Path(__file__).resolve().parents[2]
PREVIOUS_DJANGO = "5.2.18"
PINNED_DJANGO = "5.2.19"
PREVIOUS_REQUIREMENTS = "e2e/upgrade/requirements-previous-django.txt"
PORT_BASE = int(os.environ.get("E2E_UPGRADE_PORT_BASE", "0"))

collect_ignore_glob = [] if PORT_BASE else ["test_*.py"]
if not PORT_BASE or os.environ.get("E2E_TARGET") != "native" or "STACK_STATE" not in os.environ:
    collect_ignore_glob.append("test_native_upgrade.py")
if not PORT_BASE or os.environ.get("E2E_TARGET") != "compose":
    collect_ignore_glob.append("test_compose_upgrade.py")
# Natively and under Compose beside the Compose target's stack; under Swarm beside the Swarm target's (one
# swarm on the engine, which that target made).
if not PORT_BASE or os.environ.get("E2E_TARGET") not in ("compose", "swarm"):
    collect_ignore_glob.append("test_previous_release.py")


def previous_release() -> str:
    """The commit of the previous release (e2e/upgrade/previous-release.txt)."""
    lines = (ROOT / "e2e" / "upgrade" / "previous-release.txt").read_text().splitlines()
    (commit,) = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    return commit


def pinned_django() -> str:
    pins = dict(line.split("==") for line in (ROOT / "requirements.txt").read_text().splitlines() if "==" in line)
    return pins["Django"]
