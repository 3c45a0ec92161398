#!/usr/bin/env bash
# Write an env file with fresh random secrets and the deployment's name, once: an existing file
# is never touched. Used by ./stack and by the offline installer; needs only coreutils.
#   write-env.sh PATH [FOLDER]   the name: SSO_DEPLOYMENT from the environment, else one made
#                                from FOLDER's name (default: the folder PATH is in)
# SSO_SERVICE_NAMES (required): the declared services' names, separated by spaces (services.toml;
# ./stack and the offline installer give them). Each gets the password of its role, SYSTEM_NAME_DB_PASSWORD.
set -euo pipefail

path=${1:?usage: write-env.sh PATH [FOLDER]}
folder=${2:-$(dirname "$path")}
services=${SSO_SERVICE_NAMES:-}
case "$services" in
  "" | *[!a-z0-9\ ]*)
    echo "error: SSO_SERVICE_NAMES='$services' must be the declared services' names, separated by spaces. Nothing was written." >&2
    exit 2
    ;;
esac
if [ -e "$path" ] || [ -L "$path" ]; then
  echo "$path exists; keeping it (delete it yourself to start over)." >&2
  exit 0
fi
# shellcheck source=scripts/deployment-name.sh
source "$(dirname "${BASH_SOURCE[0]}")/deployment-name.sh"
name=${SSO_DEPLOYMENT:-$(default_deployment_name "$(cd "$folder" && pwd)")}
if problem=$(deployment_name_problem "$name") && [ -n "$problem" ]; then
  echo "error: SSO_DEPLOYMENT=$name (in your environment) cannot name a deployment: $problem. Nothing was written." >&2
  exit 1
fi

# 64 random letters and digits from the kernel.
random_secret() { head -c 96 /dev/urandom | base64 -w0 | tr -d '+/=' | cut -c1-64; }

# The secrets go into a file that did not exist before (mktemp creates it, mode 0600,
# with O_EXCL), never through a name someone else may have planted (a symlink or a
# world-readable file), and reach their name in one rename.
umask 077
tmp=$(mktemp "$(dirname "$path")/.$(basename "$path").XXXXXXXXXX")
trap 'rm -f "$tmp"' EXIT
{
  echo "# Written on $(date -u +%Y-%m-%dT%H:%M:%SZ) with fresh random secrets. Never commit or share it."
  echo "# Every variable is described in .env.example."
  echo "# This deployment's name: its Compose project, images, volumes, Swarm stack and OS users carry it."
  echo "SSO_DEPLOYMENT=$name"
  echo "SECRET_KEY=$(random_secret)"
  echo "POSTGRES_PASSWORD=$(random_secret)"
  for service in $services; do
    echo "SYSTEM_${service^^}_DB_PASSWORD=$(random_secret)"
  done
} >"$tmp"
chmod 0600 "$tmp"
# -T: PATH itself is the target, even if a directory appeared there meanwhile.
mv -T "$tmp" "$path"
trap - EXIT
echo "wrote $path with fresh random secrets (deployment $name)." >&2
