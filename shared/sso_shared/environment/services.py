"""The services that share this login, and where each lives under the domain."""

SERVICES = {
    "a": {"title": "System A · Intake", "url": "/a/", "prefix": "/a"},
    "b": {"title": "System B · Review", "url": "/b/", "prefix": "/b"},
}


def service_label(name: str) -> str:
    """How messages and the shared records name a service: its project folder."""
    return f"system_{name}"
