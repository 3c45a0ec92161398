"""Checks of the Docker Swarm deployment under load, run by ./stack test against the swarm target only."""

import os

# Only against the Swarm stack (./stack test sets E2E_TARGET=swarm): they kill, scale and update its tasks.
if os.environ.get("E2E_TARGET") != "swarm":
    collect_ignore_glob = ["test_*.py"]
