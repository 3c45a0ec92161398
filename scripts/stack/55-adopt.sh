# ./stack adopt NAME --from SOURCE --secret-key-file FILE [--cookie NAME] [--map FILE] [--name NAME]
#                   [--rewrite TABLE.COLUMN]... [--load FIXTURE|-] [--dry-run] [--keep-superusers]
#                   [--merge-group-permissions] [--join-existing-groups] [--merge-user-permissions]
#                   [--take-passwords] [--take-sessions]
# Runs `manage.py sso_adopt` of that service against the running stack (native or Compose).
# The source, the key and the map travel as a tar stream on standard input: the key never
# appears on a command line (nor a database password of a postgres:// source: give it in
# PGPASSWORD), and a Compose container reads no host file. docs/adopting.md

adopt_usage() {
  die "usage: ./stack adopt NAME --from SQLITE_FILE|postgres://USER@HOST/DB --secret-key-file FILE [--cookie NAME] [--map FILE] [--name NAME] [--rewrite TABLE.COLUMN]... [--load FIXTURE|-] [--dry-run] [--keep-superusers] [--merge-group-permissions] [--join-existing-groups] [--merge-user-permissions] [--take-passwords] [--take-sessions]"
}

cmd_adopt() {
  local service=${1:-} source="" key_file="" map_file="" passed=()
  is_declared_service "$service" || adopt_usage
  shift
  while [ $# -gt 0 ]; do
    case "$1" in
      --from | --secret-key-file | --map | --cookie | --name | --rewrite | --load)
        [ $# -ge 2 ] && [ -n "$2" ] || die "$1 needs a value"
        case "$1" in
          --from) source=$2 ;;
          --secret-key-file) key_file=$2 ;;
          --map) map_file=$2 ;;
          *) passed+=("$1" "$2") ;;
        esac
        shift
        ;;
      # What may raise privileges or bring credentials (docs/adopting.md): passed on as they are.
      --dry-run | --keep-superusers | --merge-group-permissions | --join-existing-groups | \
        --merge-user-permissions | --take-passwords | --take-sessions) passed+=("$1") ;;
      *) adopt_usage ;;
    esac
    shift
  done
  if [ -z "$source" ] && [ -z "$key_file" ]; then
    # --rewrite (with --load: the app's data, on standard input) reads nothing from the legacy project.
    [ ${#passed[@]} -gt 0 ] || adopt_usage
    [ -z "$map_file" ] || die "--map goes with --from and --secret-key-file"
    cmd_manage "$service" sso_adopt "${passed[@]}"
    return
  fi
  [ -n "$source" ] && [ -n "$key_file" ] || die "--from and --secret-key-file go together"
  [ -r "$key_file" ] && [ -f "$key_file" ] || die "cannot read the secret key file $key_file"
  [ -z "$map_file" ] || [ -r "$map_file" ] || die "cannot read the map file $map_file"
  (
    local staged
    staged=$(mktemp -d)
    trap 'rm -rf "$staged"' EXIT
    chmod 0700 "$staged"
    umask 077
    # Links, followed by tar -h: nothing is copied to disk.
    ln -s "$(realpath "$key_file")" "$staged/secret_key"
    [ -z "$map_file" ] || ln -s "$(realpath "$map_file")" "$staged/map.csv"
    case "$source" in
      postgres://* | postgresql://*)
        printf '%s' "$source" >"$staged/source.url"
        [ -z "${PGPASSWORD:-}" ] || printf '%s' "$PGPASSWORD" >"$staged/source.password"
        ;;
      *)
        [ -f "$source" ] && [ -r "$source" ] || die "cannot read the source $source (a SQLite file or a postgres:// URL)"
        ln -s "$(realpath "$source")" "$staged/source.sqlite3"
        printf '%s' "$source" >"$staged/source.label"
        ;;
    esac
    tar -chf - -C "$staged" . | cmd_manage "$service" sso_adopt --inputs-on-stdin "${passed[@]}"
  )
}
