#!/bin/sh
# container-start.sh — the postgres image's command (ops/docker/Dockerfile,
# target postgres; ops/docker/compose.postgres.yml). On the first start, with
# an empty data volume: initdb, then ops/postgres/init.sh over a unix socket
# (the database, the td_auth and td_diary roles with the passwords of
# TD_PG_AUTH_PASSWORD[_FILE] and TD_PG_DIARY_PASSWORD[_FILE], a schema
# each), and network logins for those two roles only, with scram-sha-256.
# Then, every start: the server, listening on every address of the
# container (the compose network is its boundary; nothing publishes 5432).
set -eu
bin=/usr/lib/postgresql/15/bin
data=/var/lib/postgresql/data
db=${TD_PG_DATABASE:-thought_diary}

if [ ! -s "$data/PG_VERSION" ]; then
  "$bin/initdb" -D "$data" -U postgres --auth-local=peer --auth-host=scram-sha-256 \
    -E UTF8 --no-locale >/dev/null
  # initdb allows 127.0.0.1 and ::1 only; the daemons come from other
  # containers, as their own roles, to their own database, nothing else.
  printf 'host %s %s,%s all scram-sha-256\n' "$db" "${TD_PG_AUTH_ROLE:-td_auth}" \
    "${TD_PG_DIARY_ROLE:-td_diary}" >>"$data/pg_hba.conf"
  "$bin/pg_ctl" -D "$data" -o "-c listen_addresses='' -k /tmp" -w start >/dev/null
  /opt/thought-diary/init.sh -h /tmp -U postgres -d postgres
  "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null
  echo "container-start.sh: database $db prepared"
fi
exec "$bin/postgres" -D "$data" -c listen_addresses='*' -k /tmp
