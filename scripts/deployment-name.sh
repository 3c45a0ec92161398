# The deployment's name (SSO_DEPLOYMENT): what a valid one looks like, and the one a new
# deployment gets. Sourced by ./stack (scripts/stack/25-deployment.sh), write-env.sh and the
# offline installer; needs bash and coreutils only.
#
# The name becomes the Compose project, the images' repository (NAME/app:VERSION), the Swarm
# stack and its secrets, and the native stack's OS users (NAME-a, NAME-migrate, ...): it must be
# valid as each of them. Docker image repositories take lowercase letters and digits with single
# separators; OS user names start with a letter and fit 32 characters (NAME-migrate: 8 more).
DEPLOYMENT_NAME_MAX=24

# Why NAME cannot name a deployment; nothing when it can.
deployment_name_problem() {
  local name=$1
  if [ -z "$name" ]; then
    echo "it is empty"
  elif [ "${#name}" -gt "$DEPLOYMENT_NAME_MAX" ]; then
    echo "it is ${#name} characters long, at most $DEPLOYMENT_NAME_MAX fit"
  elif ! [[ $name =~ ^[a-z][a-z0-9]*([_-][a-z0-9]+)*$ ]]; then
    echo "a name is lowercase letters and digits, starting with a letter, with single - or _ between them"
  fi
}

# A new deployment's name: its folder's name as a slug, then 4 random letters and digits, so two
# checkouts of one folder name on one host still differ (/srv/sso -> sso-k3f9).
default_deployment_name() {
  local slug suffix
  slug=$(basename "$1" | tr 'A-Z' 'a-z' | tr -c 'a-z0-9\n' '-' | tr -s '-' | sed 's/^-*//; s/-*$//')
  [[ $slug =~ ^[a-z] ]] || slug="sso${slug:+-$slug}"
  slug=$(printf '%s' "${slug:0:$((DEPLOYMENT_NAME_MAX - 5))}" | sed 's/-*$//')
  # (cut reads all its input, so nothing earlier in the pipe dies of a closed pipe.)
  suffix=$(head -c 512 /dev/urandom | tr -dc 'a-z0-9' | cut -c1-4)
  echo "$slug-$suffix"
}
