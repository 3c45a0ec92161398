# The Docker Compose deployment (compose.yaml).

compose_available() {
  [ -f "$ROOT/compose.yaml" ] && command -v docker >/dev/null && docker info >/dev/null 2>&1 &&
    docker compose version >/dev/null 2>&1
}
