#!/bin/sh
# redis-server with protected mode off, as in the official image (it patches
# the default); a config file, when given, stays the first argument.
set -e
if [ "${1:-}" = redis-server ]; then
  shift
  case "${1:-}" in
    *.conf) conf=$1; shift; set -- redis-server "$conf" --protected-mode no "$@" ;;
    *) set -- redis-server --protected-mode no "$@" ;;
  esac
fi
exec "$@"
