#!/usr/bin/env bash
# Thought Diary — the container smoke test (`make container-test`, and a
# stage of .ci/run): the real images, the real docker-compose.yml, run with
# podman and podman-compose, used through the published port like a person
# would.
#
#   ops/podman/smoke.sh
#
# 1. builds the images (ops/podman/build-images.sh: base images from Debian
#    when absent, then every Dockerfile target; cached between runs);
# 2. checks that docker-compose.yml loads in docker-compose 1.29;
# 3. starts the stack as project td-smoke-<pid> (ops/podman/compose.sh up -d)
#    with the gateway on a free loopback port, and waits for /ready;
# 4. checks / serves the web app and /docs Swagger UI, registers, logs in,
#    writes an entry and reads it back analysed, and streams an online
#    backup of diary.db out of its container (docs/operations.md, "Backups");
# 5. checks each daemon runs as uid 10001 with no capabilities,
#    no-new-privileges and a read-only root, and runs every healthcheck;
# 6. restarts the stack (down, up) and finds the entry again (named volumes);
# 7. scales td-sentiment to 2, checks both replicas dialled in to td-diary,
#    and that entries are analysed with either replica stopped;
# 8. runs td-auth and td-diary on PostgreSQL (ops/docker/compose.postgres.yml):
#    the same API, the rows in PostgreSQL, nothing in SQLite, kept across
#    down/up;
# 9. scales it out there (auth=3 diary=3 sentiment=2, and gateway=2 behind
#    the edge of ops/docker/compose.scale.yml): every gateway dials every
#    replica by name, writes spread over all of them, a logout through one
#    gateway is enforced by both, one of each can stop;
# 10. takes everything down and checks that no container, volume or network
#    of the project is left; a trap does the same on any failure, after
#    printing the containers' last log lines.
#
# Each step prints its time. About 1-2 minutes with a warm image cache; the
# first run on a machine also makes the base images (about a minute) and
# compiles (a few minutes). podman-compose's own output (every podman
# command, the test's random JWT key included) goes to a log file, printed
# only on failure.
set -euo pipefail
TD_LOG_TAG=smoke
. "$(dirname "$0")/common.sh"

td_podman_env
td_podman_deps

# A project of its own per run: two runs on one machine do not collide.
export COMPOSE_PROJECT_NAME="td-smoke-$$"
label="io.podman.compose.project=$COMPOSE_PROJECT_NAME"
work=$(mktemp -d /var/tmp/td-smoke.XXXXXX)
log="$work/compose.log"
compose() { "$TD_PODMAN_DIR/compose.sh" "$@" >>"$log" 2>&1; }

t0=$SECONDS
step_start=$SECONDS
step() {
  echo "smoke: $1 ($((SECONDS - step_start)) s)"
  step_start=$SECONDS
}
fail() {
  echo "smoke: FAIL: $*" >&2
  exit 1
}

cleaned=0
teardown() {
  local rc=$?
  if [ $rc -ne 0 ] && [ $cleaned -eq 0 ]; then
    if [ -s "$log" ]; then
      echo "smoke: --- podman-compose output (last 40 lines) ---" >&2
      tail -n 40 "$log" >&2
    fi
    for c in $(podman ps -a -q --filter "label=$label" 2>/dev/null); do
      echo "smoke: --- $(podman inspect -f '{{.Name}} {{.State.Status}}' "$c") (last 15 log lines) ---" >&2
      podman logs --tail 15 "$c" >&2 2>&1 || true
    done
  fi
  if [ $cleaned -eq 0 ]; then
    "$TD_PODMAN_DIR/compose.sh" down -v >>"$log" 2>&1 || true
    # Should podman-compose itself fail: the project's labels find the rest.
    podman rm -f $(podman ps -a -q --filter "label=$label") >/dev/null 2>&1 || true
    podman volume rm -f $(podman volume ls -q --filter "label=$label") >/dev/null 2>&1 || true
    podman network rm -f $(podman network ls -q --filter "label=$label") >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
  exit $rc
}
trap teardown EXIT
trap 'exit 130' INT TERM

# The stack's settings: production, as the compose file defaults to, with a
# random key, on a free loopback port. A developer's .env is not read for
# these (exported variables win in ops/podman/compose.sh), except for the
# file's ${VAR} references, where podman-compose 1.0.3 lets .env win: warn.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export GATEWAY_HOST_PORT=$port
export JWT_SECRET_KEY
JWT_SECRET_KEY=$(head -c 48 /dev/urandom | base64 -w0)
export CORS_ORIGINS="http://127.0.0.1:$port"
export APP_ENV=production
[ -f "$TD_ROOT/.env" ] && echo "smoke: note: $TD_ROOT/.env exists; podman-compose lets it override the test's APP_ENV, JWT_SECRET_KEY and port" >&2
base="http://127.0.0.1:$port"

# What a run killed outright (no trap) left behind: projects td-smoke-<pid>
# whose process is gone.
for p in $( (podman ps -a --format '{{.Names}}'; podman volume ls -q; podman network ls -q) |
            sed -n 's/^\(td-smoke-[0-9][0-9]*\)_.*/\1/p' | sort -u); do
  kill -0 "${p#td-smoke-}" 2>/dev/null && continue
  echo "smoke: removing $p, left by an earlier run"
  podman rm -f $(podman ps -a -q --filter "name=^${p}_") >/dev/null 2>&1 || true
  podman volume rm -f $(podman volume ls -q --filter "name=^${p}_") >/dev/null 2>&1 || true
  podman network rm -f $(podman network ls -q --filter "name=^${p}_") >/dev/null 2>&1 || true
done

# 1-2. images, the file in another loader
"$TD_PODMAN_DIR/build-images.sh"
step "images built"
# The RPC certificates the compose file mounts (mutual TLS between the
# daemons): made once, readable by the images' uid 10001; an existing set
# (a developer's) is used as it is.
if [ ! -f "$TD_ROOT/var/tls/ca-auth.pem" ]; then
  TD_CERT_OWNER=10001 "$TD_ROOT/ops/tls/make-dev-certs.sh" "$TD_ROOT/var/tls" >>"$log" 2>&1 ||
    fail "cannot make the RPC certificates"
fi
step "RPC certificates in var/tls"
if command -v docker-compose >/dev/null; then
  (cd "$TD_ROOT" && docker-compose -p "$COMPOSE_PROJECT_NAME" config -q) ||
    fail "docker-compose 1.29 rejects docker-compose.yml"
  step "docker-compose.yml loads in docker-compose $(docker-compose version --short)"
fi

# curl helpers: body to $work/body, status code on stdout.
http() { # METHOD PATH [JSON] [TOKEN]
  local args=(-s -o "$work/body" -w '%{http_code}' -X "$1" "$base$2" --max-time 10)
  [ -n "${3:-}" ] && args+=(-H 'Content-Type: application/json' --data "$3")
  [ -n "${4:-}" ] && args+=(-H "Authorization: Bearer $4")
  : > "$work/body"
  curl "${args[@]}" || true  # prints 000 when it cannot connect
}
json() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$work/body" "$1"; }
wait_ready() {
  local deadline=$((SECONDS + ${1:-120})) code
  while :; do
    code=$(http GET /ready)
    if [ "$code" = 200 ] && grep -q '"status":"ready"' "$work/body"; then return 0; fi
    [ $SECONDS -lt $deadline ] || fail "/ready not ready after ${1:-120} s (last: $code $(cat "$work/body" 2>/dev/null))"
    sleep 1
  done
}
login() {
  [ "$(http POST /auth/login "$creds")" = 200 ] || fail "login: $(cat "$work/body")"
  json access_token
}
# Writes an entry and waits (up to 30 s) until GET shows it analysed:
# td-diary saves an entry unanalysed when no td-sentiment answers in time
# and analyses it later, so polling tells "analysed" from "lost".
write_analysed() { # TOKEN TEXT -> id
  local id deadline=$((SECONDS + 30))
  [ "$(http POST /diaries "{\"content\":\"$2\"}" "$1")" = 201 ] || fail "POST /diaries: $(cat "$work/body")"
  id=$(json id)
  until grep -q 'class=\\"positive\\"' "$work/body"; do
    [ $SECONDS -lt $deadline ] || fail "entry $id not analysed after 30 s: $(cat "$work/body")"
    sleep 1
    [ "$(http GET "/diaries/$id" "" "$1")" = 200 ] || fail "GET /diaries/$id: $(cat "$work/body")"
  done
  echo "$id"
}

# 3. up
compose up -d || fail "podman-compose up failed"
wait_ready 120
step "stack up and ready on 127.0.0.1:$port"

# 4. the web app, the API docs, the API
[ "$(http GET /)" = 200 ] && grep -q '<title>Thought Diary</title>' "$work/body" ||
  fail "/ does not serve the web app"
[ "$(http GET /app/js/main.js)" = 200 ] || fail "/app/js/main.js: not served"
[ "$(http GET /docs)" = 200 ] && grep -q 'swagger-ui-bundle.js' "$work/body" ||
  fail "/docs does not serve the Swagger UI page"
[ "$(http GET /docs/swagger-ui-bundle.js)" = 200 ] || fail "/docs/swagger-ui-bundle.js: not served"
[ "$(http GET /openapi.json)" = 200 ] || fail "/openapi.json: not served"
creds='{"email":"smoke@example.com","password":"Smoke-Test-2026!"}'
[ "$(http POST /auth/register "$creds")" = 201 ] || fail "register: $(cat "$work/body")"
token=$(login)
text="Today I felt happy and grateful, though a bit anxious about tomorrow."
id=$(write_analysed "$token" "$text")
[ "$(http GET "/diaries/$id" "" "$token")" = 200 ] && grep -q "$text" "$work/body" ||
  fail "GET /diaries/$id: $(cat "$work/body")"
step "web app, docs, register, login, entry $id written and read back analysed"

# An online backup as docs/operations.md takes it: sqlite3 in the image.
podman exec "${COMPOSE_PROJECT_NAME}_diary_1" sh -c \
  'sqlite3 /var/lib/thought-diary/diary.db ".backup /tmp/b.db" && cat /tmp/b.db && rm /tmp/b.db' \
  > "$work/diary.db" || fail "backup of diary.db failed"
[ "$(sqlite3 "$work/diary.db" 'PRAGMA integrity_check')" = ok ] || fail "the backup is damaged"
dump=$(sqlite3 "$work/diary.db" .dump) && grep -qF "$text" <<<"$dump" || fail "the backup lacks entry $id"
step "online backup of diary.db streamed out of the container: intact, has the entry"

# 5. what every daemon container runs as, and the healthchecks
for svc in gateway auth diary sentiment; do
  c="${COMPOSE_PROJECT_NAME}_${svc}_1"
  # uid, then the capability and no_new_privs lines of the process, then
  # the options of the mount on / (field 5 of mountinfo is the mount point).
  out=$(podman exec "$c" sh -c 'id -u; grep -E "^(CapEff|NoNewPrivs)" /proc/self/status; awk "\$5 == \"/\" { print \"root \" \$6 }" /proc/self/mountinfo') ||
    fail "podman exec $c failed"
  [ "$(echo "$out" | sed -n 1p)" = 10001 ] || fail "$c does not run as uid 10001: $out"
  echo "$out" | grep -q 'CapEff:[[:space:]]*0000000000000000' || fail "$c has capabilities: $out"
  echo "$out" | grep -q 'NoNewPrivs:[[:space:]]*1' || fail "$c lacks no-new-privileges: $out"
  echo "$out" | grep -Eq '^root (ro|ro,.*)$' || fail "$c has a writable root filesystem: $out"
done
"$TD_PODMAN_DIR/compose.sh" health 2>/dev/null | sed 's/^/smoke:   /' ||
  fail "a healthcheck failed"
step "daemons run as 10001, no capabilities, no-new-privileges, read-only; all healthy"

# 6. restart: the entry is still there
compose down || fail "podman-compose down failed"
[ -z "$(podman ps -a -q --filter "label=$label")" ] || fail "down left containers"
compose up -d || fail "podman-compose up (again) failed"
wait_ready 120
token=$(login)
[ "$(http GET "/diaries/$id" "" "$token")" = 200 ] && grep -q "$text" "$work/body" ||
  fail "entry $id lost across down/up: $(cat "$work/body")"
step "down + up: entry $id still there"

# 7. two td-sentiment replicas
compose up -d --scale sentiment=2 || fail "up --scale sentiment=2 failed"
s1="${COMPOSE_PROJECT_NAME}_sentiment_1" s2="${COMPOSE_PROJECT_NAME}_sentiment_2"
# (the logs are read whole first: `grep -q` in a pipe would end podman logs
# early with SIGPIPE, which pipefail counts as a failure)
dialled_in() { local l; l=$(podman logs "$1" 2>&1) && grep -q rpc_dialled_in <<<"$l"; }
deadline=$((SECONDS + 60))
until dialled_in "$s2"; do
  [ $SECONDS -lt $deadline ] || fail "$s2 did not dial in to td-diary within 60 s"
  sleep 1
done
dialled_in "$s1" || fail "$s1 never dialled in to td-diary"
write_analysed "$token" "A calm and hopeful morning with both replicas." >/dev/null
# (podman's complaints about systemd timers for healthchecks go to the log)
podman stop -t 5 "$s1" >/dev/null 2>>"$log"
write_analysed "$token" "Proud and relieved: replica two answered alone." >/dev/null
podman start "$s1" >/dev/null 2>>"$log"
podman stop -t 5 "$s2" >/dev/null 2>>"$log"
write_analysed "$token" "Glad and thankful: replica one answered alone." >/dev/null
podman start "$s2" >/dev/null 2>>"$log"
wait_ready 60
"$TD_PODMAN_DIR/compose.sh" health 2>/dev/null | sed 's/^/smoke:   /' ||
  fail "a healthcheck failed after scaling"
step "sentiment scaled to 2: both dialled in, entries analysed with either one stopped"

# 8. td-auth and td-diary on PostgreSQL (ops/docker/compose.postgres.yml):
# a fresh project state (the SQLite volumes go), the postgres service made
# and prepared on its first start, the same API, the rows in PostgreSQL and
# no SQLite file written, and the data kept across down/up.
compose down -v || fail "podman-compose down -v failed"
pgcompose() { "$TD_PODMAN_DIR/compose.sh" -f "$TD_ROOT/docker-compose.yml" \
                -f "$TD_ROOT/ops/docker/compose.postgres.yml" "$@" >>"$log" 2>&1; }
export TD_PG_AUTH_PASSWORD TD_PG_DIARY_PASSWORD
TD_PG_AUTH_PASSWORD=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
TD_PG_DIARY_PASSWORD=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
pgcompose up -d || fail "podman-compose up with compose.postgres.yml failed"
wait_ready 180
[ "$(http POST /auth/register "$creds")" = 201 ] || fail "register on PostgreSQL: $(cat "$work/body")"
token=$(login)
text="On PostgreSQL now, and glad it went smoothly."
id=$(write_analysed "$token" "$text")
pg="${COMPOSE_PROJECT_NAME}_postgres_1"
rows=$(podman exec "$pg" psql -h /tmp -U postgres -d thought_diary -tAc \
        "SELECT (SELECT count(*) FROM auth.users) || '/' || (SELECT count(*) FROM diary.entries)") ||
  fail "psql in $pg failed"
[ "$rows" = 1/1 ] || fail "users/entries in PostgreSQL: $rows, want 1/1"
for svc in auth diary; do
  files=$(podman exec "${COMPOSE_PROJECT_NAME}_${svc}_1" ls /var/lib/thought-diary) ||
    fail "ls in $svc failed"
  [ -z "$files" ] || fail "td-$svc wrote SQLite files on PostgreSQL: $files"
done
step "on PostgreSQL: register, login, entry $id analysed; rows in PostgreSQL, no SQLite file"
pgcompose down || fail "podman-compose down (PostgreSQL) failed"
pgcompose up -d || fail "podman-compose up (PostgreSQL, again) failed"
wait_ready 180
token=$(login)
[ "$(http GET "/diaries/$id" "" "$token")" = 200 ] && grep -q "$text" "$work/body" ||
  fail "entry $id lost across down/up on PostgreSQL: $(cat "$work/body")"
step "down + up on PostgreSQL: entry $id still there"

# 9. scaled out on PostgreSQL as docs/operations.md scales it: three td-auth,
# three td-diary, two td-sentiment, and two gateways behind the edge
# (ops/docker/compose.scale.yml, which takes the published port from the
# gateways; ops/podman/compose.sh applies its `!reset`). Every caller reaches
# every replica through the one service name (common/td_rpc_names.c). The
# single gateway of step 8 holds the port: down first (the volume stays).
pgcompose down || fail "podman-compose down (PostgreSQL, before scaling) failed"
scaled() { "$TD_PODMAN_DIR/compose.sh" -f "$TD_ROOT/docker-compose.yml" \
             -f "$TD_ROOT/ops/docker/compose.postgres.yml" \
             -f "$TD_ROOT/ops/docker/compose.scale.yml" "$@" >>"$log" 2>&1; }
scaled up -d --scale auth=3 --scale diary=3 --scale sentiment=2 --scale gateway=2 ||
  fail "up --scale auth=3 --scale diary=3 --scale sentiment=2 --scale gateway=2 failed"
name() { echo "${COMPOSE_PROJECT_NAME}_$1_$2"; }
# How many addresses of a name a container dialled: "(diary)" at the end.
dialled() { local l; l=$(podman logs "$1" 2>&1) || return 1
            grep rpc_peer_address_added <<<"$l" | grep -c "($2)" || true; }
deadline=$((SECONDS + 90))
# each gateway: the three td-diary replicas, the three td-auth replicas' RPC
# and their three revocation feeds
for g in 1 2; do
  until [ "$(dialled "$(name gateway $g)" diary)" -ge 3 ] &&
        [ "$(dialled "$(name gateway $g)" auth)" -ge 6 ]; do
    [ $SECONDS -lt $deadline ] ||
      fail "gateway $g did not reach every replica within 90 s (diary $(dialled "$(name gateway $g)" diary), auth $(dialled "$(name gateway $g)" auth))"
    sleep 1
  done
done
wait_ready 120
step "scaled to auth=3 diary=3 sentiment=2 gateway=2 on PostgreSQL: every gateway dialled every replica"

token=$(login)
for i in $(seq 1 24); do write_analysed "$token" "Scaled out and happy, entry $i." >/dev/null; done
created() { local l; l=$(podman logs "$1" 2>&1) || return 1; grep -c diary_created <<<"$l" || true; }
for r in 1 2 3; do
  [ "$(created "$(name diary $r)")" -ge 1 ] ||
    fail "no write reached td-diary replica $r ($(for x in 1 2 3; do printf '%s ' "$(created "$(name diary $x)")"; done))"
done
# The edge spreads requests over both gateways: each one counted creates.
# (podman exec: the gateways publish no port; curl is in their image.)
on_gateway() { # N PATH [TOKEN]: status code of GET PATH asked of gateway N directly
  podman exec "$(name gateway "$1")" curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
    ${3:+-H "Authorization: Bearer $3"} "http://127.0.0.1:8080$2" 2>>"$log" || true
}
creates_on() {
  podman exec "$(name gateway "$1")" curl -s --max-time 5 http://127.0.0.1:8080/metrics 2>>"$log" |
    awk '/^td_http_requests_total\{route="\/diaries",method="POST",status="201"\}/ { n += $2 } END { print n + 0 }'
}
for g in 1 2; do
  [ "$(creates_on $g)" -ge 1 ] || fail "the edge sent no write to gateway $g ($(creates_on 1) / $(creates_on 2))"
done
step "24 entries written through the edge: analysed, spread over both gateways and every td-diary"

# A logout through the edge (so through one gateway) is enforced by both
# (td-auth's revocation feed; docs/operations.md, "Revocations").
doomed=$(login)
for g in 1 2; do
  [ "$(on_gateway $g /auth/me "$doomed")" = 200 ] || fail "gateway $g refused a fresh token"
done
[ "$(http POST /auth/logout "" "$doomed")" = 200 ] || fail "logout: $(cat "$work/body")"
deadline=$((SECONDS + 5))
for g in 1 2; do
  until [ "$(on_gateway $g /auth/me "$doomed")" = 401 ]; do
    [ $SECONDS -lt $deadline ] || fail "gateway $g still accepts a logged-out token after 5 s"
    sleep 0.2
  done
done
step "a logout through the edge is enforced by both gateways"

# One of each stopped: the rest serve (the edge drops a stopped gateway;
# callers drop a stopped replica).
podman stop -t 5 "$(name diary 1)" "$(name auth 1)" "$(name gateway 1)" >/dev/null 2>>"$log" ||
  fail "podman stop failed"
write_analysed "$token" "Glad: the others wrote this one without replica one." >/dev/null
token=$(login)
[ "$(http GET /diaries "" "$token")" = 200 ] && [ "$(json total)" = 26 ] ||
  fail "with one of each stopped, GET /diaries: $(cat "$work/body")"
podman start "$(name diary 1)" "$(name auth 1)" "$(name gateway 1)" >/dev/null 2>>"$log" ||
  fail "podman start failed"
step "gateway, td-auth and td-diary replica 1 stopped: writes, logins and reads still served"

# 10. down -v: nothing of the project is left
scaled down -v || fail "podman-compose down -v failed"
cleaned=1
left="$(podman ps -a -q --filter "label=$label")$(podman volume ls -q --filter "label=$label")$(podman network ls -q --filter "label=$label")"
[ -z "$left" ] || fail "down -v left: $left"
step "down -v: no container, volume or network left"
echo "smoke: passed in $((SECONDS - t0)) s"
