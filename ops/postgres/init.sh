#!/bin/sh
# init.sh — prepares a PostgreSQL server for Thought Diary: runs init.sql
# (database, a role and a schema per daemon) through psql. Arguments go to
# psql and say how to reach the server as a role that may create roles and
# databases, e.g.:
#
#   TD_PG_AUTH_PASSWORD=... TD_PG_DIARY_PASSWORD=... \
#     runuser -u postgres -- ops/postgres/init.sh
#   TD_PG_AUTH_PASSWORD_FILE=/run/secrets/a TD_PG_DIARY_PASSWORD_FILE=/run/secrets/d \
#     ops/postgres/init.sh -h db.example -U admin -d postgres
#
# Environment: TD_PG_DATABASE (thought_diary), TD_PG_AUTH_ROLE (td_auth),
# TD_PG_DIARY_ROLE (td_diary), and the two passwords, each either in
# TD_PG_*_PASSWORD or in the file TD_PG_*_PASSWORD_FILE names. Passwords go
# to psql through its environment (\getenv), never on its command line.
set -eu
here=$(cd "$(dirname "$0")" && pwd)

password() { # name
  eval "file=\${${1}_FILE:-}" "value=\${${1}:-}"
  if [ -n "$file" ]; then
    [ -z "$value" ] || { echo "init.sh: set $1 or ${1}_FILE, not both" >&2; exit 2; }
    value=$(head -n 1 "$file")
  fi
  [ -n "$value" ] || { echo "init.sh: $1 (or ${1}_FILE) is required" >&2; exit 2; }
  printf '%s' "$value"
}

TD_PG_AUTH_PASSWORD=$(password TD_PG_AUTH_PASSWORD)
TD_PG_DIARY_PASSWORD=$(password TD_PG_DIARY_PASSWORD)
export TD_PG_AUTH_PASSWORD TD_PG_DIARY_PASSWORD
export TD_PG_DATABASE="${TD_PG_DATABASE:-thought_diary}"
export TD_PG_AUTH_ROLE="${TD_PG_AUTH_ROLE:-td_auth}"
export TD_PG_DIARY_ROLE="${TD_PG_DIARY_ROLE:-td_diary}"

# -X: no ~/.psqlrc; the variables come in before the script runs.
{
  printf '\\getenv db TD_PG_DATABASE\n\\getenv auth_role TD_PG_AUTH_ROLE\n'
  printf '\\getenv diary_role TD_PG_DIARY_ROLE\n'
  printf '\\getenv auth_password TD_PG_AUTH_PASSWORD\n\\getenv diary_password TD_PG_DIARY_PASSWORD\n'
  cat "$here/init.sql"
} | psql -X -q -v ON_ERROR_STOP=1 "$@" -f -
