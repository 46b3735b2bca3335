#!/usr/bin/env bash
# ops/tls/make-dev-certs.sh DIR [EXTRA_NAME ...] — makes the certificates for
# RPC over tls+tcp:// (docs/operations.md, "Who may call whom"): one CA per
# role (gateway, auth, diary, sentiment, operator) and one certificate per
# role signed by it, in DIR:
#
#   ca-<role>.pem   the role's CA certificate (public: every process gets all)
#   <role>.pem      the role's certificate and private key (give each
#                   process only its own; mode 0600)
#
# TD_CERT_OWNER=UID chowns the files (the container images run as 10001).
#
# A listener trusts exactly one role's CA, so a certificate of one role can
# never pass for another. Each certificate names its role as a DNS name (the
# compose service names), plus localhost, 127.0.0.1, ::1 and any EXTRA_NAME
# (DNS names or IP addresses) given here, since a dialer checks the server's
# name against the host in its URL. Development and tests only: for
# production keep the CA keys offline (this script deletes them at the end,
# so a set cannot be extended later — rerun it to rotate everything).
set -euo pipefail
dir=${1:?usage: make-dev-certs.sh DIR [EXTRA_NAME ...]}
shift
extra=("$@")
days=${TD_CERT_DAYS:-825}
mkdir -p "$dir"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
umask 077

for role in gateway auth diary sentiment operator; do
  # The role's CA.
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$work/ca-$role.key" -out "$dir/ca-$role.pem" -days "$days" \
    -subj "/O=Thought Diary/CN=Thought Diary $role CA" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
    2>/dev/null
  # nng's TLS (mbedTLS 2.28) matches the dialled host only against DNS names
  # and the CN, never IP entries: an address is listed both ways.
  san="DNS:$role,DNS:localhost,DNS:127.0.0.1,IP:127.0.0.1,DNS:::1,IP:::1"
  for n in "${extra[@]}"; do
    if [[ $n =~ ^[0-9.]+$ || $n == *:* ]]; then san+=",DNS:$n,IP:$n"; else san+=",DNS:$n"; fi
  done
  # The role's certificate: both server and client (a daemon is both).
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$work/$role.key" -out "$work/$role.csr" -subj "/O=Thought Diary/CN=$role" \
    2>/dev/null
  printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyAgreement\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=%s\n' \
    "$san" >"$work/$role.ext"
  openssl x509 -req -in "$work/$role.csr" -CA "$dir/ca-$role.pem" -CAkey "$work/ca-$role.key" \
    -CAserial "$work/ca-$role.srl" -CAcreateserial -out "$work/$role.crt" -days "$days" -extfile "$work/$role.ext" 2>/dev/null
  cat "$work/$role.crt" "$work/$role.key" >"$dir/$role.pem"
  chmod 0644 "$dir/ca-$role.pem"
  chmod 0600 "$dir/$role.pem"
done
# TD_CERT_OWNER=10001: for the container images, whose daemons run as 10001
# and must read their own key from a bind mount (docker-compose.yml).
if [ -n "${TD_CERT_OWNER:-}" ]; then
  chown "$TD_CERT_OWNER" "$dir"/*.pem
fi
echo "certificates for gateway, auth, diary, sentiment and operator are in $dir"
