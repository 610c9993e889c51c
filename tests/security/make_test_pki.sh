#!/usr/bin/env bash
# Generates a throwaway PKI for the TLS tests with the openssl CLI:
#   ca.crt/ca.key            the test CA
#   server.crt/server.key    signed by it, for localhost and 127.0.0.1 (serverAuth)
#   client.crt/client.key    signed by it (clientAuth), for mutual TLS
#   rogue-ca.crt, rogue-server.*, rogue-client.*   the same from an unrelated CA
# EC P-256 keys: fast to make. Valid for two days; nothing leaves DIR.
#   make_test_pki.sh DIR
set -euo pipefail
dir=${1:?usage: make_test_pki.sh DIR}
mkdir -p "$dir"
cd "$dir"
umask 077

new_ca() {  # name cn
  openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$1.key" -out "$1.crt" -days 2 -subj "/CN=$2" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    2>/dev/null
}

new_leaf() {  # name ca usage cn
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$1.key" -out "$1.csr" -subj "/CN=$4" 2>/dev/null
  printf '%s\n' "subjectAltName=DNS:localhost,IP:127.0.0.1" "basicConstraints=CA:FALSE" \
    "keyUsage=critical,digitalSignature,keyEncipherment" "extendedKeyUsage=$3" >"$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$2.crt" -CAkey "$2.key" -CAcreateserial -days 2 \
    -extfile "$1.ext" -out "$1.crt" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}

new_ca ca "moe4 test CA"
new_leaf server ca serverAuth localhost
new_leaf client ca clientAuth moe4-test-client
new_ca rogue-ca "rogue CA"
new_leaf rogue-server rogue-ca serverAuth localhost
new_leaf rogue-client rogue-ca clientAuth rogue-client
chmod 644 ./*.crt
openssl verify -CAfile ca.crt server.crt client.crt >/dev/null
