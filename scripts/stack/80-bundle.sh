# ./stack bundle: the offline bundle, built on a connected machine.
#   dist/sso-<version>-offline.tar.gz  holds the images (docker save), a wheelhouse
#   for the native install, the source, install.sh, MANIFEST, SHA256SUMS and
#   SHA256SUMS.minisig; dist/sso-<version>-offline.tar.gz.minisig signs the whole file.
# ./stack bundle-key: the site's signing key pair, made once, kept outside the checkout.

# The secret key signs; the public key next to it goes to every site that installs.
SIGNING_KEY=${STACK_SIGNING_KEY:-$HOME/.config/sso/bundle-signing.key}

signing_public_key() {
  case "$SIGNING_KEY" in
    *.key) echo "${SIGNING_KEY%.key}.pub" ;;
    *) echo "$SIGNING_KEY.pub" ;;
  esac
}

ensure_minisign() {
  command -v minisign >/dev/null && return 0
  if is_root && command -v apt-get >/dev/null; then
    apt_install minisign
  else
    die "signing bundles needs minisign. Install it with: sudo apt-get install -y minisign"
  fi
}

# Inside the checkout a key is one `git add -A` away from being committed.
key_path_outside_checkout() {
  case "$(realpath -m "$SIGNING_KEY")/" in
    "$(realpath "$ROOT")"/*) die "$SIGNING_KEY is inside the checkout; keep the signing key elsewhere (default ~/.config/sso/bundle-signing.key, or STACK_SIGNING_KEY=PATH)." ;;
  esac
}

cmd_bundle_key() {
  [ $# -eq 0 ] || die "bundle-key takes no arguments (STACK_SIGNING_KEY=PATH chooses where the key goes)"
  key_path_outside_checkout
  local public
  public=$(signing_public_key)
  if [ -e "$SIGNING_KEY" ] || [ -e "$public" ]; then
    die "$SIGNING_KEY or $public exists; keeping it (installs pinned to its public key accept only bundles it signs)."
  fi
  ensure_minisign
  (umask 077 && mkdir -p "$(dirname "$SIGNING_KEY")" "$(dirname "$public")")
  # -W: no password, so ./stack bundle runs unattended; the file's mode 0600 protects it.
  (umask 077 && minisign -G -W -s "$SIGNING_KEY" -p "$public" >/dev/null)
  chmod 0600 "$SIGNING_KEY"
  chmod 0644 "$public"
  say "secret key (keep it on this machine, never share it): $SIGNING_KEY"
  say "public key (carry it to every site; install.sh --public-key FILE): $public"
  cat "$public"
}

# Refuse before the long build: no key, or a key others may read.
require_signing_key() {
  [ -f "$SIGNING_KEY" ] ||
    die "no bundle-signing key at $SIGNING_KEY. Make the site's key pair once with: ./stack bundle-key (or set STACK_SIGNING_KEY to the secret key file)."
  [ -z "$(find "$SIGNING_KEY" -perm /077)" ] ||
    die "$SIGNING_KEY may be read by others than its owner; chmod 600 it (and consider making a new key pair)."
  [ -f "$(signing_public_key)" ] ||
    die "no public key at $(signing_public_key) next to the secret key (minisign -R -s $SIGNING_KEY -p $(signing_public_key) makes it again)."
  ensure_minisign
}

# Sign FILE into FILE.minisig, then check it with the public key the sites will use.
sign_file() {
  local file=$1 comment=$2
  minisign -S -s "$SIGNING_KEY" -m "$file" -x "$file.minisig" -t "$comment" >/dev/null
  minisign -V -q -p "$(signing_public_key)" -m "$file" -x "$file.minisig" ||
    die "the signature of $file does not verify with $(signing_public_key): it is not the public key of $SIGNING_KEY."
}

BUNDLE_NAME=sso
BUNDLE_PYTHON=3.11 # Debian bookworm's python3, which the images run
BUNDLE_ARCHES=(x86_64 aarch64)

# <commit date>-<short hash>: sortable, and a valid image tag.
bundle_version() {
  local ref=$1
  echo "$(git -C "$ROOT" log -1 --format=%cd --date=format:%Y%m%d "$ref")-$(git -C "$ROOT" rev-parse --short=8 "$ref")"
}

bundle_step() {
  BUNDLE_STEP=$((BUNDLE_STEP + 1))
  say "[$BUNDLE_STEP/6 $((SECONDS - BUNDLE_STARTED))s] $*"
}

# The committed source of REF; its compose file defaults to this bundle's image tags.
# The installer always comes from this checkout, so older releases install the same way.
export_source() {
  local ref=$1 dir=$2 version=$3
  mkdir -p "$dir"
  git -C "$ROOT" archive --format=tar "$ref" | tar -x -C "$dir"
  # The services' Compose file, from the release's services.toml (a release before it had none).
  if [ -f "$dir/scripts/compose_services.py" ]; then
    SSO_SERVICES_FILE="$dir/services.toml" python3 -I "$dir/scripts/compose_services.py" compose "$dir/compose.services.yaml" &&
      SSO_SERVICES_FILE="$dir/services.toml" python3 -I "$dir/scripts/compose_services.py" swarm "$dir/compose.swarm.services.yaml" ||
      die "$ref: the Compose files of its services cannot be written (see above)."
  fi
  local file
  for file in "$dir/compose.yaml" "$dir/compose.base.yaml"; do
    [ ! -f "$file" ] || sed -i "s/\${SSO_VERSION:-dev}/\${SSO_VERSION:-$version}/g" "$file"
  done
  # SSO_REQUIREMENTS (upgrade tests only) makes a bundle of the same code on other pins.
  [ -z "${SSO_REQUIREMENTS:-}" ] || cp "$dir/$SSO_REQUIREMENTS" "$dir/requirements.txt"
  install -m 0755 "$ROOT/offline/install.sh" "$dir/install.sh"
  # The release's services, for the installer's write-env.sh (no Python needed there). A release
  # before services.toml served a and b.
  if [ -f "$dir/services.toml" ]; then
    SSO_SERVICES_FILE="$dir/services.toml" python3 -I "$dir/shared/sso_shared/environment/services.py" names |
      tr '\n' ' ' | sed 's/ $/\n/' >"$dir/service-names" || die "$ref: its services.toml cannot be read (see above)."
  else
    echo "a b" >"$dir/service-names"
  fi
  install -m 0755 "$ROOT/scripts/write-env.sh" "$dir/write-env.sh"
  install -m 0644 "$ROOT/scripts/database-owners.sh" "$dir/database-owners.sh"
  install -m 0644 "$ROOT/scripts/deployment-name.sh" "$dir/deployment-name.sh"
}

# The bundle's images are named after the project (sso/app:VERSION, ...); install.sh tags them
# with the name of the deployment it installs (NAME/app:VERSION, which compose.yaml runs).
release_images() {
  local version=$1
  printf '%s/%s:%s\n' "$BUNDLE_NAME" app "$version" "$BUNDLE_NAME" db "$version" "$BUNDLE_NAME" nginx "$version"
}

# Build REF's images from its own Dockerfile; extra CAs are a build input only: the build
# secret extra_ca. A release older than that read them from docker/extra-ca/ in its source
# (and kept them in its images); such a release gets them there, and they leave the bundle again.
build_release_images() {
  local dir=$1 version=$2
  ensure_base_image
  stage_extra_cas
  if [ -d "$dir/docker/extra-ca" ] && [ -s "$EXTRA_CA_FILE" ]; then
    cp "$EXTRA_CA_FILE" "$dir/docker/extra-ca/extra-ca.crt"
  fi
  COMPOSE_PROJECT_NAME=$BUNDLE_NAME SSO_REQUIREMENTS=requirements.txt SSO_VERSION=$version DOCKER_BUILDKIT=1 \
    without_bake_notice docker compose --project-directory "$dir" \
    -f "$dir/compose.yaml" --env-file "$dir/.env.example" -p "$BUNDLE_NAME" build -q
  rm -f "$dir"/docker/extra-ca/*.crt
}

save_images() {
  local dir=$1 version=$2
  mkdir -p "$dir/images"
  # shellcheck disable=SC2046 # one argument per image
  docker save -o "$dir/images/sso-images.tar" $(release_images "$version")
  say "    images: $(du -h "$dir/images/sso-images.tar" | cut -f1)"
}

# Wheels for glibc 2.28 and later too: the images run Debian bookworm (glibc 2.36), and some
# packages (cbor2 6, cryptography 50, for passkeys) ship only manylinux_2_28 wheels.
download_wheels() {
  local dir=$1 arch shared_wheel
  shared_wheel=$(mktemp -d)
  # Built from a copy: pip leaves build/ and *.egg-info in the source it builds, which
  # would then ship (and an empty folder there is one that SHA256SUMS cannot list).
  cp -r "$dir/shared" "$shared_wheel/source"
  "$PY" -m pip wheel -q --no-deps -w "$shared_wheel" "$shared_wheel/source"
  for arch in "${BUNDLE_ARCHES[@]}"; do
    "$PY" -m pip download -q --only-binary=:all: --implementation cp --python-version "$BUNDLE_PYTHON" \
      --abi "cp${BUNDLE_PYTHON/./}" --abi abi3 --abi none \
      --platform "manylinux_2_28_$arch" --platform "manylinux_2_17_$arch" --platform "manylinux2014_$arch" \
      --platform "linux_$arch" \
      -d "$dir/wheels/linux_$arch" -r "$dir/requirements.txt"
    cp "$shared_wheel"/*.whl "$dir/wheels/linux_$arch/"
    say "    wheels for $arch: $(find "$dir/wheels/linux_$arch" -name '*.whl' | wc -l) files"
  done
  rm -rf "$shared_wheel"
}

# What is inside, for people: every image with its ID, every wheel with its version.
write_manifest() {
  local dir=$1 version=$2 ref=$3 image wheel
  {
    echo "bundle $BUNDLE_NAME $version"
    echo "commit $(git -C "$ROOT" rev-parse "$ref")"
    echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    while read -r image; do
      echo "image $image $(docker image inspect --format '{{.Id}}' "$image")"
    done < <(release_images "$version")
    for wheel in "$dir"/wheels/*/*.whl; do
      local file=${wheel##*/}
      local name_version=${file%%-py*}
      name_version=${name_version%%-cp*}
      echo "wheel ${wheel#"$dir"/wheels/} ${name_version%-*} ${name_version##*-}"
    done
  } >"$dir/MANIFEST"
}

write_checksums() {
  local dir=$1
  (cd "$dir" && find . -type f ! -name SHA256SUMS -printf '%P\n' | LC_ALL=C sort | xargs -d '\n' sha256sum >SHA256SUMS)
}

pack_bundle() {
  local work=$1 name=$2 target=$3
  mkdir -p "$(dirname "$target")"
  tar -C "$work" -cf - "$name" | gzip -1 >"$target.partial"
  mv "$target.partial" "$target"
  rm -f "$target.sha256" # a checksum next to the file proves nothing; the signature does
  sign_file "$target" "$(basename "$target")"
}

cmd_bundle() {
  local ref=HEAD out="$ROOT/dist"
  while [ $# -gt 0 ]; do
    case "$1" in
      --ref) ref=${2:?--ref needs a commit} && shift ;;
      --out) out=${2:?--out needs a folder} && shift ;;
      *) die "unknown option for bundle: $1 (use --ref COMMIT, --out DIR)" ;;
    esac
    shift
  done
  compose_available || die "building the bundle needs a Docker engine with Compose v2 (docker/install-engine.sh)."
  require_signing_key
  git -C "$ROOT" rev-parse --verify -q "$ref^{commit}" >/dev/null || die "no such commit: $ref"
  [ -z "$(git -C "$ROOT" status --porcelain --untracked-files=no)" ] ||
    warn "uncommitted changes are not in the bundle: it holds the committed source of $ref."
  ensure_python_env
  local version name work target
  version=$(bundle_version "$ref")
  # A bundle on other pins (SSO_REQUIREMENTS, upgrade tests only) gets its own image tags.
  [ -z "${SSO_REQUIREMENTS:-}" ] || version="$version-$(basename "$SSO_REQUIREMENTS" .txt)"
  name="$BUNDLE_NAME-$version"
  work=$(mktemp -d "${TMPDIR:-/tmp}/sso-bundle.XXXXXX")
  # shellcheck disable=SC2064 # expand now: the folder to remove is known now
  trap "rm -rf '$work'" EXIT
  target="$out/$name-offline.tar.gz"
  BUNDLE_STEP=0 BUNDLE_STARTED=$SECONDS

  bundle_step "source of $ref ($version)"
  export_source "$ref" "$work/$name" "$version"
  bundle_step "building the images"
  build_release_images "$work/$name" "$version"
  bundle_step "saving the images"
  save_images "$work/$name" "$version"
  bundle_step "downloading wheels for Python $BUNDLE_PYTHON on ${BUNDLE_ARCHES[*]}"
  download_wheels "$work/$name"
  bundle_step "manifest, checksums and signature"
  write_manifest "$work/$name" "$version" "$ref"
  write_checksums "$work/$name"
  # What install.sh checks first: SHA256SUMS signed, and through it every other file.
  sign_file "$work/$name/SHA256SUMS" "$name SHA256SUMS"
  bundle_step "packing"
  pack_bundle "$work" "$name" "$target"

  say "bundle ready in $((SECONDS - BUNDLE_STARTED))s: $(du -h "$target" | cut -f1)  $target"
  say "signature: $target.minisig (verify: minisign -Vm $target -p $(signing_public_key))"
  echo "$target"
}
