#!/bin/sh
# The edge's entry point (ops/docker/Dockerfile, target edge): nginx with the
# container's own DNS server as its resolver, then nginx in the foreground.
#
# nginx re-resolves "gateway" through a `resolver` it is given by address; it
# does not read /etc/resolv.conf. The server to give it is the one that knows
# the compose network's names: Docker's embedded DNS (127.0.0.11) under
# Docker, aardvark-dns (the network's gateway address) under podman. Each
# runtime writes its own as the first nameserver of the container's
# /etc/resolv.conf, so that is the one taken (ops/docker/edge-nginx.conf
# includes the line written here).
set -eu
ns=
while read -r key value _; do
  if [ "$key" = nameserver ]; then ns=$value; break; fi
done </etc/resolv.conf
if [ -z "$ns" ]; then
  echo "edge: no nameserver in /etc/resolv.conf: cannot resolve the gateways" >&2
  exit 1
fi
case "$ns" in *:*) ns="[$ns]" ;; esac
echo "resolver $ns valid=5s ipv6=off;" >/tmp/resolver.conf
exec nginx -e stderr -g 'daemon off;'
