# shellcheck shell=bash disable=SC2154,SC2015
# (SC2154: the caller sets the variables below; SC2015: every `A && B || fail`
# here means "fail unless both hold".)
#
# installed_tree.sh — checks shared by test_install and test_package (sourced,
# not run: ctest runs only tests/scripts/test_*). Both get an installed tree
# under some root (DESTDIR, or a .deb unpacked with dpkg -x) and ask the same
# two questions: is every file where the configured prefix says, and does the
# stack run from that tree alone?
#
# The caller sets: src (the source tree), root (the staging root), prefix (the
# configured install prefix, so the tree is "$root$prefix"), tmp (a scratch
# directory it deletes) and name (for messages); and calls tree_stop_stack
# from its EXIT trap. Failures are collected in `failures` and printed by
# tree_report, which returns non-zero when there was any.

failures=0
stack_pids=()
stack_names=()

fail() {
  echo "$name: FAIL: $*" >&2
  failures=$((failures + 1))
}

# tree_check_files: the layout CMakeLists.txt documents, checked against the
# sources it comes from, so a file added to the web app or to the docs page
# cannot be left out of the install unnoticed.
tree_check_files() {
  local t=$root$prefix d f rel
  for d in td-gateway td-auth td-diary td-sentiment tdctl; do
    [ -x "$t/bin/$d" ] || fail "bin/$d is missing or not executable"
  done
  # The web app: every file of frontend/, byte for byte.
  while IFS= read -r -d '' f; do
    rel=${f#"$src/frontend/"}
    cmp -s "$f" "$t/share/thought-diary/web/$rel" ||
      fail "share/thought-diary/web/$rel is missing or differs from frontend/$rel"
  done < <(find "$src/frontend" -type f -print0)
  for f in index.html openapi.json swagger-init.js; do
    cmp -s "$src/gateway/docs/$f" "$t/share/thought-diary/docs/$f" ||
      fail "share/thought-diary/docs/$f is missing or differs from gateway/docs/$f"
  done
  # Every /docs/<file> the docs page loads is installed (Swagger UI's under
  # swagger-ui/), and no node_modules directory is.
  local refs
  refs=$(grep -o '/docs/[A-Za-z0-9._-]*' "$src/gateway/docs/index.html" | sort -u)
  [ -n "$refs" ] || fail "no /docs/ references found in gateway/docs/index.html"
  for f in $refs; do
    f=${f#/docs/}
    [ -f "$t/share/thought-diary/docs/$f" ] || [ -f "$t/share/thought-diary/docs/swagger-ui/$f" ] ||
      fail "the docs page loads /docs/$f, which is not installed"
  done
  for f in LICENSE NOTICE; do
    [ -f "$t/share/thought-diary/docs/swagger-ui/$f" ] || fail "Swagger UI's $f is not installed"
  done
  [ -z "$(find "$root" -name node_modules)" ] || fail "a node_modules directory was installed"
  cmp -s "$src/.env.example" "$t/share/thought-diary/env.example" ||
    fail "share/thought-diary/env.example is missing or differs from .env.example"
  cmp -s "$src/ops/systemd/thought-diary.sysusers" "$t/lib/sysusers.d/thought-diary.conf" ||
    fail "lib/sysusers.d/thought-diary.conf is missing or differs"
  cmp -s "$src/ops/systemd/thought-diary.tmpfiles" "$t/lib/tmpfiles.d/thought-diary.conf" ||
    fail "lib/tmpfiles.d/thought-diary.conf (the RPC socket directory) is missing or differs"
  # The units: every template installed, its paths filled in, every program
  # it runs the installed binary.
  local unit u line prog
  for unit in "$src"/ops/systemd/*.service "$src"/ops/systemd/*.target; do
    u=$t/lib/systemd/system/$(basename "$unit")
    if [ ! -f "$u" ]; then
      fail "lib/systemd/system/$(basename "$unit") is missing"
      continue
    fi
    ! grep -qE '@[A-Za-z_]+@' "$u" || fail "$(basename "$u") keeps a placeholder: $(grep -oE '@[A-Za-z_]+@' "$u" | head -1)"
    while IFS= read -r line; do
      prog=${line#*=}
      prog=${prog%% *}
      [ "$prog" = "$prefix/bin/$(basename "$prog")" ] && [ -x "$root$prog" ] ||
        fail "$(basename "$u"): $line does not run an installed binary under $prefix/bin"
    done < <(grep -E '^ExecStart(Pre)?=' "$u")
  done
  # The gateway's compiled-in defaults are the installed directories.
  for d in docs web; do
    grep -qaF "$prefix/share/thought-diary/$d" "$t/bin/td-gateway" ||
      fail "td-gateway does not default to $prefix/share/thought-diary/$d"
  done
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

tree_print_logs() {
  local log
  for log in "$tmp"/log/*.log; do
    [ -f "$log" ] || continue
    echo "---- $log (last 20 lines)" >&2
    tail -n 20 "$log" >&2
  done
}

# tree_stop_stack [check]: TERM, then KILL after 10 s; with "check", a daemon
# that needed KILL or exited non-zero is a failure.
tree_stop_stack() {
  local i status
  for i in "${!stack_pids[@]}"; do
    kill -TERM "${stack_pids[$i]}" 2>/dev/null || true
  done
  for i in "${!stack_pids[@]}"; do
    for _ in $(seq 1 100); do
      kill -0 "${stack_pids[$i]}" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "${stack_pids[$i]}" 2>/dev/null; then
      kill -KILL "${stack_pids[$i]}" 2>/dev/null || true
      [ "${1:-}" = check ] && fail "${stack_names[$i]} did not stop within 10 s of SIGTERM"
    fi
    status=0
    wait "${stack_pids[$i]}" 2>/dev/null || status=$?
    [ "${1:-}" = check ] && [ $status -ne 0 ] && fail "${stack_names[$i]} exited with status $status"
  done
  stack_pids=()
  stack_names=()
}

# http METHOD PATH [BODY [TOKEN]]: sets `code` and `body` (written to
# $tmp/body); curl's own failure counts as code 000.
http() {
  local args=(-s -o "$tmp/body" -w '%{http_code}' -X "$1" "$base$2")
  [ -n "${3:-}" ] && args+=(-H 'Content-Type: application/json' --data "$3")
  [ -n "${4:-}" ] && args+=(-H "Authorization: Bearer $4")
  code=$(curl "${args[@]}" 2>/dev/null) || code=000
  body=$(cat "$tmp/body" 2>/dev/null || true)
}

json_field() {
  python3 -c 'import json, sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2" 2>/dev/null
}

# tree_run_stack: the four installed daemons from the tree alone, on a free
# port with RPC over ipc:// sockets and data in $tmp; then what a user does.
# DOCS_DIR and STATIC_DIR name the staged copies, which are not at the
# compiled-in paths (those are checked by tree_check_files).
tree_run_stack() {
  local t=$root$prefix port d
  port=$(free_port)
  base=http://127.0.0.1:$port
  mkdir -p "$tmp/run" "$tmp/log" "$tmp/data"
  export APP_ENV=testing TD_ENV_FILE=/dev/null LOG_LEVEL=info
  export JWT_SECRET_KEY=install-test-secret-0123456789abcdef
  export AUTH_RPC_URL=ipc://$tmp/run/auth.sock DIARY_RPC_URL=ipc://$tmp/run/diary.sock
  export SENTIMENT_RPC_URL=ipc://$tmp/run/sentiment.sock AUTH_EVENTS_URL=ipc://$tmp/run/events.sock
  export AUTH_RPC_OPERATOR_URL=ipc://$tmp/run/auth-operator.sock
  export DIARY_RPC_OPERATOR_URL=ipc://$tmp/run/diary-operator.sock
  export GATEWAY_LISTEN=127.0.0.1:$port
  export DOCS_DIR=$t/share/thought-diary/docs STATIC_DIR=$t/share/thought-diary/web
  for d in td-sentiment td-diary td-auth td-gateway; do
    # Started from $tmp: a daemon must not depend on its working directory.
    (cd "$tmp" && DATA_DIR=$tmp/data/$d exec "$t/bin/$d") >"$tmp/log/$d.log" 2>&1 &
    stack_pids+=($!)
    stack_names+=("$d")
  done
  local ready=0
  for _ in $(seq 1 150); do
    if curl -fs "$base/ready" >/dev/null 2>&1; then ready=1; break; fi
    sleep 0.1
  done
  if [ $ready -ne 1 ]; then
    fail "the installed stack did not answer /ready within 15 s"
    tree_print_logs
    return
  fi

  # The gateway names the app's files by version in index.html
  # (/app/v-<16 hex>/..., gateway/routes_static.c): without the version it is
  # the installed file, byte for byte.
  http GET /
  local version
  version=$(grep -oE '/app/v-[0-9a-f]{16}/' "$tmp/body" | head -1)
  [ "$code" = 200 ] && [ -n "$version" ] &&
    sed -E 's#/app/v-[0-9a-f]{16}/#/app/#g' "$tmp/body" | cmp -s - "$t/share/thought-diary/web/index.html" ||
    fail "GET / answered $code, not the installed web app's index.html"
  http GET /app/js/main.js
  [ "$code" = 200 ] || fail "GET /app/js/main.js answered $code"
  http GET "${version:-/app/v-missing/}js/main.js"
  [ "$code" = 200 ] || fail "GET ${version}js/main.js answered $code"
  http GET /docs
  [ "$code" = 200 ] && cmp -s "$tmp/body" "$t/share/thought-diary/docs/index.html" ||
    fail "GET /docs answered $code, not the installed Swagger UI page"
  http GET /docs/swagger-ui-bundle.js
  [ "$code" = 200 ] && cmp -s "$tmp/body" "$t/share/thought-diary/docs/swagger-ui/swagger-ui-bundle.js" ||
    fail "GET /docs/swagger-ui-bundle.js answered $code, not the installed Swagger UI"
  http GET /openapi.json
  [ "$code" = 200 ] && cmp -s "$tmp/body" "$t/share/thought-diary/docs/openapi.json" ||
    fail "GET /openapi.json answered $code, not the installed document"

  local cred='{"email":"install@thoughtdiary.example","password":"Install-Test-2026!"}' token
  http POST /auth/register "$cred"
  [ "$code" = 201 ] || fail "POST /auth/register answered $code: $body"
  http POST /auth/login "$cred"
  [ "$code" = 200 ] || fail "POST /auth/login answered $code: $body"
  token=$(json_field "$body" access_token || true)
  [ -n "$token" ] || fail "no access_token in the login reply"
  http POST /diaries '{"content":"I felt happy today, installed at last."}' "$token"
  [ "$code" = 201 ] || fail "POST /diaries answered $code: $body"
  http GET /diaries "" "$token"
  [ "$code" = 200 ] && [ "$(json_field "$body" total)" = 1 ] ||
    fail "GET /diaries answered $code, not the one entry: $body"
  "$t/bin/tdctl" ping >"$tmp/log/tdctl.log" 2>&1 || fail "the installed tdctl ping failed: $(cat "$tmp/log/tdctl.log")"

  tree_stop_stack check
  [ $failures -eq 0 ] || tree_print_logs
}

tree_report() {
  if [ $failures -ne 0 ]; then
    echo "$name: $failures failure(s)" >&2
    return 1
  fi
  echo "$name: ok"
}
