#!/usr/bin/env bash
# TLS end to end with real processes: a CA and server certificate made by the
# openssl CLI (make_test_pki.sh), moe4-coordinator serving with --tls-cert /
# --tls-key, moe4ctl with --tls-ca, and (when the worker binary is given) a
# worker that runs a job over TLS. Plaintext is refused: moe4ctl without the CA,
# moe4ctl trusting another CA, a worker without TLS, and a raw HTTP/2 preface.
#   tls_e2e_test.sh COORDINATOR MOE4CTL SOURCE_DIR [WORKER]
set -euo pipefail
coordinator=$1 ctl=$2 src=$3 worker=${4:-}
source "$src/tests/e2e/lib.sh"

pki=$e2e_work/pki
bash "$src/tests/security/make_test_pki.sh" "$pki"
e2e_init_db "$src"
e2e_start_coordinator "$coordinator" --tls-cert "$pki/server.crt" --tls-key "$pki/server.key"
ctl_tls=("$ctl" --coordinator "127.0.0.1:$e2e_port" --token-file "$e2e_work/admin.token" --tls-ca "$pki/ca.crt")
ctl_plain=("$ctl" --coordinator "127.0.0.1:$e2e_port" --token-file "$e2e_work/admin.token")

cat >"$e2e_work/spec.yaml" <<'YAML'
name: tls-e2e
families: [AirNet, AlexNet, BagNet]
catalogue: adapted       # infrastructure test: small, quick experts
k: 2
budget: 1
seed: 3
dataset: {name: "synthetic:channels=1,size=28,classes=4", train_subset: 300, test_subset: 100}
recipe: {epochs: 1, batch_size: 32, lr: 0.003, width: 0.25}
YAML

e2e_submit "$e2e_work/spec.yaml" "${ctl_tls[@]}"
id=$e2e_campaign
pass "moe4ctl submits over TLS with the CA"

set +e
"${ctl_plain[@]}" list >"$e2e_work/plain.out" 2>&1; plain_rc=$?
"${ctl_plain[@]}" --tls-ca "$pki/rogue-ca.crt" list >"$e2e_work/rogue.out" 2>&1; rogue_rc=$?
set -e
[[ $plain_rc -eq 3 ]] || fail "plaintext moe4ctl: exit $plain_rc, want 3 (unreachable): $(cat "$e2e_work/plain.out")"
[[ $rogue_rc -eq 3 ]] || fail "moe4ctl trusting another CA: exit $rogue_rc, want 3: $(cat "$e2e_work/rogue.out")"
pass "plaintext and wrongly trusting clients are refused (exit 3)"

# The handshake: the chain verifies, and TLS below 1.2 is refused.
echo | openssl s_client -connect "127.0.0.1:$e2e_port" -CAfile "$pki/ca.crt" -verify_return_error \
  -servername localhost -alpn h2 >"$e2e_work/s_client.out" 2>&1 || true
grep -q 'Verify return code: 0 (ok)' "$e2e_work/s_client.out" ||
  fail "certificate chain does not verify: $(tail -5 "$e2e_work/s_client.out")"
if echo | openssl s_client -connect "127.0.0.1:$e2e_port" -tls1_1 >"$e2e_work/tls11.out" 2>&1 &&
   grep -q 'Cipher is [A-Z]' "$e2e_work/tls11.out" && ! grep -q 'Cipher is (NONE)' "$e2e_work/tls11.out"; then
  fail "the coordinator accepted TLS 1.1"
fi
pass "chain verifies against the test CA; TLS 1.1 refused"

# A plaintext HTTP/2 client preface + SETTINGS frame gets no HTTP/2 answer.
reply=$(python3 - "$e2e_port" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")
try:
    data = s.recv(64)
except Exception:
    data = b""
print(data[:9].hex())
PY
)
[[ ${reply:6:2} != 04 ]] || fail "the TLS port answered a plaintext HTTP/2 preface with SETTINGS ($reply)"
pass "a raw plaintext HTTP/2 preface gets no HTTP/2 answer (${reply:-nothing})"

if [[ -n $worker ]]; then
  e2e_start_worker "$worker" plain-worker
  e2e_start_worker "$worker" tls-worker --tls-ca "$pki/ca.crt"
  for _ in $(seq 1 300); do
    "${ctl_tls[@]}" status "$id" >"$e2e_work/status.out" 2>&1 || true
    head -1 "$e2e_work/status.out" | grep -qE ': (done|cancelled),' && break
    sleep 1
  done
  head -1 "$e2e_work/status.out" | grep -q ': done,' || fail "campaign not done over TLS: $(cat "$e2e_work/status.out")"
  [[ $(e2e_sql "SELECT count(*) FROM jobs j JOIN workers w ON w.id = j.worker_id
       WHERE j.state = 'succeeded' AND w.name = 'tls-worker'") == 1 ]] || fail "the TLS worker did not run the job"
  [[ $(e2e_sql "SELECT count(*) FROM workers WHERE name = 'plain-worker'") == 0 ]] ||
    fail "a plaintext worker registered with a TLS coordinator"
  pass "a worker with --tls-ca ran the job; the plaintext worker never registered"
fi
