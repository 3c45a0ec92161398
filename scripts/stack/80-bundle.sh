# ./stack bundle: the offline bundle, built on a connected machine.
#   dist/sso-<version>-offline.tar.gz  holds the images (docker save), a wheelhouse
#   for the native install, the source, install.sh, MANIFEST and SHA256SUMS.

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
  sed -i "s/\${SSO_VERSION:-dev}/\${SSO_VERSION:-$version}/g" "$dir/compose.yaml"
  # SSO_REQUIREMENTS (upgrade tests only) makes a bundle of the same code on other pins.
  [ -z "${SSO_REQUIREMENTS:-}" ] || cp "$dir/$SSO_REQUIREMENTS" "$dir/requirements.txt"
  install -m 0755 "$ROOT/offline/install.sh" "$dir/install.sh"
  install -m 0755 "$ROOT/scripts/write-env.sh" "$dir/write-env.sh"
}

release_images() {
  local version=$1
  printf 'sso/%s:%s\n' app "$version" db "$version" nginx "$version"
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
  SSO_REQUIREMENTS=requirements.txt SSO_VERSION=$version DOCKER_BUILDKIT=1 COMPOSE_BAKE=false docker compose --project-directory "$dir" \
    -f "$dir/compose.yaml" --env-file "$dir/.env.example" -p "$BUNDLE_NAME-bundle" build -q
  rm -f "$dir"/docker/extra-ca/*.crt
}

save_images() {
  local dir=$1 version=$2
  mkdir -p "$dir/images"
  # shellcheck disable=SC2046 # one argument per image
  docker save -o "$dir/images/sso-images.tar" $(release_images "$version")
  say "    images: $(du -h "$dir/images/sso-images.tar" | cut -f1)"
}

download_wheels() {
  local dir=$1 arch shared_wheel
  shared_wheel=$(mktemp -d)
  "$PY" -m pip wheel -q --no-deps -w "$shared_wheel" "$dir/shared"
  for arch in "${BUNDLE_ARCHES[@]}"; do
    "$PY" -m pip download -q --only-binary=:all: --implementation cp --python-version "$BUNDLE_PYTHON" \
      --abi "cp${BUNDLE_PYTHON/./}" --abi abi3 --abi none \
      --platform "manylinux_2_17_$arch" --platform "manylinux2014_$arch" --platform "linux_$arch" \
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
  (cd "$(dirname "$target")" && sha256sum "$(basename "$target")" >"$(basename "$target").sha256")
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
  bundle_step "manifest and checksums"
  write_manifest "$work/$name" "$version" "$ref"
  write_checksums "$work/$name"
  bundle_step "packing"
  pack_bundle "$work" "$name" "$target"

  say "bundle ready in $((SECONDS - BUNDLE_STARTED))s: $(du -h "$target" | cut -f1)  $target"
  say "checksum: $target.sha256"
  echo "$target"
}
