# Sourced helpers for starting moe4 servers on loopback without port races.
#
# Picking a "free" port and passing it to a server races with every other
# process on the machine (CI runs suites side by side): another process can
# bind the port between the check and the server's bind. So servers are
# started on port 0, the kernel picks a port atomically at bind time, and the
# coordinator prints what it got:
#   moe4-coordinator listening on HOST:PORT                (stdout)
#   ... http (/healthz, /metrics): HOST:PORT               (log, stderr)
# These helpers wait for those lines in the server's log file.
#
# PostgreSQL cannot bind port 0, so moe4_free_port remains for it, with
# deploy/pg-throwaway.sh retrying on a port taken in between.

# Prints a TCP port on 127.0.0.1 that nothing listened on a moment ago,
# below the kernel's ephemeral range: a client reconnecting in a loop to a
# stopped server on a port inside that range can be given that very port as
# its own source port (a TCP self-connect), after which the server cannot bind
# it again ("Address already in use" restarting PostgreSQL in
# coordinator_pg_restart_test).
moe4_free_port() {
  local p low=32768
  read -r low _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || low=32768
  ((low > 11000)) || low=32768
  for _ in $(seq 1 200); do
    p=$((10000 + RANDOM % (low - 10000)))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return 0; }
  done
  echo "no free port found" >&2
  return 1
}

# Waits until the coordinator writing LOG prints its gRPC address and echoes
# the port. Only lines after FROM_LINE count (a log appended to by an earlier
# run of the same server already holds an old line: pass its line count taken
# before the start, `wc -l <log`). Fails (1) when the process exits first, or
# after 60 s (the coordinator itself waits up to 30 s for its database).
moe4_wait_grpc_port() {  # log pid [from_line=0]
  moe4_wait_listen_line "$1" "$2" "${3:-0}" 's/^moe4-coordinator listening on .*:\([0-9][0-9]*\)$/\1/p'
}

# Same for the /healthz and /metrics address; the coordinator logs it just
# before the gRPC line.
moe4_wait_http_port() {  # log pid [from_line=0]
  moe4_wait_listen_line "$1" "$2" "${3:-0}" 's/.*http (\/healthz, \/metrics): .*:\([0-9][0-9]*\)$/\1/p'
}

# Line count of a log file, 0 when it does not exist yet.
moe4_log_lines() { if [[ -f "$1" ]]; then wc -l <"$1"; else echo 0; fi; }

# Waits for the first line after FROM_LINE of LOG from which SED_EXPR (a
# `sed -n` program) prints something, and echoes that: a port.
moe4_wait_listen_line() {  # log pid from_line sed_expr
  local log=$1 pid=$2 from=$3 expr=$4 deadline=$(( $(date +%s) + 60 )) port
  while :; do
    port=$(tail -n "+$((from + 1))" "$log" 2>/dev/null | sed -n "$expr" | tail -1)
    [[ -n "$port" ]] && { echo "$port"; return 0; }
    kill -0 "$pid" 2>/dev/null || { echo "process $pid exited before listening (log: $log)" >&2; return 1; }
    (( $(date +%s) < deadline )) || { echo "no listening line in $log after 60 s" >&2; return 1; }
    sleep 0.1
  done
}
