#!/usr/bin/env bash
# Thought Diary — docker-compose.yml with Debian 12's podman-compose (1.0.3),
# made to behave like `docker compose` where 1.0.3 does not:
#
#   ops/podman/compose.sh up -d                       # the stack (images: make image)
#   ops/podman/compose.sh up -d --scale sentiment=2   # more td-sentiment replicas
#   ops/podman/compose.sh health                      # run every healthcheck now
#   ops/podman/compose.sh ps | logs SERVICE | down [-v] | ...
#   ops/podman/compose.sh -f docker-compose.yml -f my-override.yml up -d
#
# What it adds to podman-compose 1.0.3:
# - CONTAINERS_CONF=ops/podman/containers.conf (rlimits a root without
#   CAP_SYS_RESOURCE can apply, runc; see that file).
# - The project name: COMPOSE_PROJECT_NAME, else thought-diary (1.0.3 reads
#   neither that variable nor a top-level `name:`; it would use the
#   directory's name).
# - .env: 1.0.3 reads it only for the ${VAR} of the file, so the variables
#   the file passes through by name alone (`LOG_LEVEL:`) would never come
#   from it. This exports each NAME=value line of the project's .env whose
#   NAME is not already set, as Compose v2 does: the shell wins over .env.
#   (For the few ${VAR} of the file, 1.0.3 itself lets .env win.)
# - `up --scale SERVICE=N`: 1.0.3 accepts and ignores it; here it becomes
#   deploy.replicas in a generated override file.
# - Compose v2's `!reset` and `!override` tags (ops/docker/compose.scale.yml
#   takes the gateway's published port away with one): 1.0.3 refuses to load
#   them; ops/podman/compose_tags.py applies them first.
# - `down`: also removes what 1.0.3 leaves behind: replicas started with
#   --scale, and the project's network (with -v, its volumes as 1.0.3 does).
# - `health`: `podman healthcheck run` on each of the project's containers
#   (podman runs healthchecks from systemd timers only; without systemd,
#   nothing runs them and podman logs "unable to get systemd connection").
#
# Still true with this wrapper: depends_on conditions are not waited for
# (containers start in dependency order at once; the daemons reconnect on
# their own, and the gateway's /ready says when everything answers), and
# podman-compose prints every podman command it runs, environment included
# (JWT_SECRET_KEY too): keep its output out of shared logs. `exec` passes
# unset variables as the text "None": use `podman exec CONTAINER ...`.
set -euo pipefail
TD_LOG_TAG=compose
. "$(dirname "$0")/common.sh"

td_podman_env
td_podman_deps

project=${COMPOSE_PROJECT_NAME:-thought-diary}
files=()
while [ $# -gt 0 ]; do
  case "$1" in
    -f|--file) files+=("$2"); shift 2 ;;
    -p|--project-name) project=$2; shift 2 ;;
    *) break ;;
  esac
done
[ ${#files[@]} -gt 0 ] || files=("$TD_ROOT/docker-compose.yml")
[ $# -gt 0 ] || td_die "usage: $0 [-f FILE]... [-p NAME] COMMAND [ARGS...] (podman-compose's commands, and health)"
cmd=$1
shift

# .env of the project directory (the first file's), the daemons' format:
# NAME=value, # comments, optional "export ", optional matching quotes.
envfile="$(cd "$(dirname "${files[0]}")" && pwd)/.env"
if [ -f "$envfile" ]; then
  while IFS= read -r line || [ -n "$line" ]; do
    line="${line#"${line%%[![:space:]]*}"}"
    case "$line" in ''|'#'*) continue ;; esac
    line="${line#export }"
    name="${line%%=*}"
    [ "$name" != "$line" ] || continue
    name="${name%"${name##*[![:space:]]}"}"
    [[ "$name" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || continue
    value="${line#*=}"
    value="${value#"${value%%[![:space:]]*}"}"
    value="${value%"${value##*[![:space:]]}"}"
    if [ ${#value} -ge 2 ] && { [[ "$value" == \"*\" ]] || [[ "$value" == \'*\' ]]; }; then
      value="${value:1:${#value}-2}"
    fi
    [ -n "${!name+set}" ] || export "$name=$value"
  done < "$envfile"
fi

# Files made here for this run only (the tags' copies, the --scale override).
made=()
trap 'rm -f ${made[@]+"${made[@]}"}' EXIT

# Compose v2's `!reset` and `!override` (ops/docker/compose.scale.yml): 1.0.3
# cannot load them; ops/podman/compose_tags.py rewrites the files concerned.
if grep -qE '!(reset|override)([[:space:]]|$)' "${files[@]}"; then
  mapfile -t resolved < <(python3 "$TD_PODMAN_DIR/compose_tags.py" "${files[@]}") ||
    td_die "compose_tags.py could not read ${files[*]}"
  [ ${#resolved[@]} -eq ${#files[@]} ] || td_die "compose_tags.py failed on ${files[*]}"
  for i in "${!files[@]}"; do
    [ "${resolved[$i]}" = "${files[$i]}" ] || made+=("${resolved[$i]}")
  done
  files=("${resolved[@]}")
fi

label="io.podman.compose.project=$project"
pc=(podman-compose -p "$project")
for f in "${files[@]}"; do pc+=(-f "$f"); done

case "$cmd" in
  up)
    args=() scales=()
    while [ $# -gt 0 ]; do
      case "$1" in
        --scale) scales+=("$2"); shift 2 ;;
        --scale=*) scales+=("${1#--scale=}"); shift ;;
        *) args+=("$1"); shift ;;
      esac
    done
    if [ ${#scales[@]} -gt 0 ]; then
      override=$(mktemp /tmp/td-compose-scale.XXXXXX.yml)
      made+=("$override")
      echo "services:" > "$override"
      for s in "${scales[@]}"; do
        [[ "$s" =~ ^([A-Za-z0-9_.-]+)=([0-9]+)$ ]] || td_die "--scale $s: expected SERVICE=NUMBER"
        printf '  %s:\n    deploy:\n      replicas: %s\n' "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}" >> "$override"
      done
      pc+=(-f "$override")
    fi
    "${pc[@]}" up ${args[@]+"${args[@]}"}
    ;;
  down)
    volumes=0
    for a in "$@"; do case "$a" in -v|--volumes) volumes=1 ;; esac; done
    "${pc[@]}" down "$@"
    # What 1.0.3 does not know or does not remove.
    ids=$(podman ps -a -q --filter "label=$label")
    [ -z "$ids" ] || podman rm -f $ids >/dev/null
    if [ $volumes -eq 1 ]; then
      vols=$(podman volume ls -q --filter "label=$label")
      [ -z "$vols" ] || podman volume rm -f $vols >/dev/null
    fi
    nets=$(podman network ls -q --filter "label=$label")
    [ -z "$nets" ] || podman network rm -f $nets >/dev/null
    ;;
  health)
    rc=0
    for c in $(podman ps -q --filter "label=$label"); do
      name=$(podman inspect -f '{{.Name}}' "$c")
      if podman healthcheck run "$c" >/dev/null 2>&1; then
        echo "$name: healthy"
      else
        echo "$name: unhealthy"
        rc=1
      fi
    done
    exit $rc
    ;;
  *)
    "${pc[@]}" "$cmd" "$@"
    ;;
esac
