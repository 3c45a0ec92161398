"""Turn `docker compose config --format json` of compose.yaml + compose.swarm.yaml into a stack file.

`docker stack deploy` reads the older Compose file format 3 and refuses (or silently ignores) keys
only Docker Compose knows. This drops those keys, names every secret by the version ./stack created
it under (Swarm secrets cannot change, so a new value is a new secret), and lets ./stack deploy a
part of the stack at a time (the database, then the migration job, then the rest).

    swarm_stack_file.py CONFIG.json --secret LOGICAL=SWARM_NAME ... [--only SERVICE ...]
        [--without SERVICE ...] [--image-id SERVICE=ID ...] [--keep-image SERVICE=IMAGE ...]
        [--env NAME=VALUE ... --env-for SERVICE ...] [--label KEY=VALUE ...] > stack.json

Stdlib only: ./stack runs it with the system python3. docs/swarm.md.
"""

import argparse
import json
import sys

FILE_FORMAT = "3.9"
# Service keys Docker Compose knows and `docker stack deploy` does not (or ignores with a warning).
# Their Swarm counterparts are in compose.swarm.yaml: deploy.resources for the limits,
# deploy.restart_policy for restart, the migration job for depends_on.
# https://docs.docker.com/reference/compose-file/deploy/
COMPOSE_ONLY_SERVICE_KEYS = (
    "build",
    "pull_policy",
    "container_name",
    "depends_on",
    "restart",
    "mem_limit",
    "pids_limit",
    # Swarm services have no security options (docs/swarm.md): no-new-privileges is lost there.
    "security_opt",
)
# Names Compose gives resources; without them `docker stack deploy` prefixes the stack's name.
NAMED_RESOURCES = ("networks", "volumes")


def parse_pairs(pairs: list[str], what: str) -> dict[str, str]:
    parsed = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"swarm_stack_file.py: {what} must be NAME=VALUE, got {pair!r}")
        parsed[key] = value
    return parsed


def tmpfs_mount(entry: str) -> dict:
    """A service-level `tmpfs:` entry ("PATH[:OPTIONS]") as the mount Swarm takes (it ignores the short form).

    Swarm's tmpfs mounts take a size and a mode, no owner: a folder Compose gives a user
    (uid=...) becomes one every user may write to, sticky (01777), as /tmp is.
    """
    target, _, options = entry.partition(":")
    settings = dict(option.partition("=")[::2] for option in options.split(",") if option)
    mode = int(settings.get("mode", "1777"), 8)
    if "uid" in settings or "gid" in settings:
        mode = 0o1777
    return {"type": "tmpfs", "target": target, "tmpfs": {"mode": mode}}


def swarm_service(service: dict, secret_names: dict[str, str]) -> dict:
    # (Compose writes an unset command or entrypoint as null, which the stack file format refuses.)
    service = {k: v for k, v in service.items() if k not in COMPOSE_ONLY_SERVICE_KEYS and v is not None}
    # A secret ./stack created no Swarm secret for (an empty SECRET_KEY_FALLBACKS) is left out:
    # the app's entrypoint then finds no file, as under Compose.
    secrets = []
    for ref in service.get("secrets", []):
        if ref["source"] in secret_names:
            target = ref.get("target", ref["source"]).rsplit("/", 1)[-1]
            secrets.append({"source": ref["source"], "target": target, "mode": 0o444})
    if "secrets" in service:
        service["secrets"] = secrets
    if "tmpfs" in service:
        service["volumes"] = service.get("volumes", []) + [tmpfs_mount(entry) for entry in service.pop("tmpfs")]
    for port in service.get("ports", []):
        for key in ("published", "target"):
            if key in port:
                port[key] = int(port[key])
    deploy = service.get("deploy", {})
    if not deploy.get("placement"):
        deploy.pop("placement", None)
    return service


def stack_file(config: dict, args) -> dict:
    secret_names = parse_pairs(args.secret, "--secret")
    keep_images = parse_pairs(args.keep_image, "--keep-image")
    image_ids = parse_pairs(args.image_id, "--image-id")
    extra_env = parse_pairs(args.env, "--env")
    # Container labels of every service (the deployment's folder: docs/operations.md).
    labels = parse_pairs(args.label, "--label")
    services = {}
    for name, service in config["services"].items():
        if args.only and name not in args.only:
            continue
        if name in args.without:
            continue
        service = swarm_service(service, secret_names)
        if name in keep_images:
            service["image"] = keep_images[name]
        if name in image_ids:
            # A container label: a rebuilt image under the same tag makes Swarm roll out new tasks.
            service["labels"] = {**service.get("labels", {}), "sso.image-id": image_ids[name]}
        if labels:
            service["labels"] = {**service.get("labels", {}), **labels}
        if extra_env and name in args.env_for:
            service.setdefault("environment", {}).update(extra_env)
        services[name] = service
    used_secrets = {ref["source"] for service in services.values() for ref in service.get("secrets", [])}
    stack = {
        "version": FILE_FORMAT,
        "services": services,
        "secrets": {name: {"external": True, "name": secret_names[name]} for name in sorted(used_secrets)},
    }
    for kind in NAMED_RESOURCES:
        stack[kind] = {name: {k: v for k, v in spec.items() if k != "name"} for name, spec in config[kind].items()}
    return stack


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", help="output of docker compose config --format json")
    parser.add_argument("--secret", action="append", default=[], metavar="LOGICAL=SWARM_NAME")
    parser.add_argument("--only", action="append", default=[], metavar="SERVICE")
    parser.add_argument("--without", action="append", default=[], metavar="SERVICE")
    parser.add_argument("--keep-image", action="append", default=[], metavar="SERVICE=IMAGE")
    parser.add_argument("--image-id", action="append", default=[], metavar="SERVICE=IMAGE_ID")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--env-for", action="append", default=[], metavar="SERVICE")
    parser.add_argument("--label", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)
    with open(args.config, encoding="utf-8") as source:
        config = json.load(source)
    json.dump(stack_file(config, args), sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv[1:])
