#!/usr/bin/env bash
# Installs built moe4 binaries as systemd services on this host. Idempotent:
# binaries, units and docs are replaced (that is the upgrade path), while
# /etc/moe4 settings and tokens that exist are kept (but for --worker-token,
# which installs the token given).
#
#   deploy/install.sh --role coordinator           # coordinator + moe4ctl; makes both tokens
#   deploy/install.sh --role worker --worker-token FILE [--enable [--gpus 0,1]]
#   deploy/install.sh --role all                   # one box running everything
#
# Options:
#   --build-dir DIR     where deploy/build.sh built (default ./build)
#   --prefix DIR        binaries go to DIR/bin (default /usr/local)
#   --worker-token FILE the coordinator's worker token, for a worker host
#   --enable            enable and start the role's services
#   --gpus LIST         worker instances to enable (default: every GPU nvidia-smi lists)
#   --root DIR          stage into DIR instead of / (packaging, tests): no user,
#                       no chown, no systemctl
# docs/deploy.md walks through it.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
role="" build=$src/build prefix=/usr/local root="" worker_token="" enable=0 gpus=""
die() { echo "install: $*" >&2; exit 2; }
while (($#)); do
  case $1 in
    --role) role=${2:?}; shift 2 ;;
    --build-dir) build=${2:?}; shift 2 ;;
    --prefix) prefix=${2:?}; shift 2 ;;
    --root) root=${2:?}; shift 2 ;;
    --worker-token) worker_token=${2:?}; shift 2 ;;
    --enable) enable=1; shift ;;
    --gpus) gpus=${2:?}; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
case $role in coordinator|worker|all) ;; *) die "--role coordinator|worker|all is required" ;; esac
[[ -z "$root" || "$root" == /* ]] || die "--root needs an absolute path"
[[ -n "$root" || $(id -u) -eq 0 ]] || die "run as root (or with sudo)"
[[ -z "$worker_token" || -s "$worker_token" ]] || die "--worker-token $worker_token: missing or empty"
with_coordinator=0 with_worker=0
[[ $role == coordinator || $role == all ]] && with_coordinator=1
[[ $role == worker || $role == all ]] && with_worker=1

bins=()
((with_coordinator)) && bins+=(coordinator/moe4-coordinator ctl/moe4ctl)
((with_worker)) && bins+=(worker/moe4-worker)
for b in "${bins[@]}"; do
  [[ -x "$build/$b" ]] || die "$build/$b not built (deploy/build.sh; a worker needs libtorch-dev)"
done
((with_worker)) && [[ -x "$build/worker/moe4-train" ]] && bins+=(worker/moe4-train)

etc=$root/etc/moe4 unitdir=$root/etc/systemd/system
# The group that may read settings and TLS keys; only on a real install does it exist.
group=root
if [[ -z "$root" ]]; then
  install -D -m 0644 "$src/deploy/systemd/moe4.sysusers" /etc/sysusers.d/moe4.conf
  if command -v systemd-sysusers >/dev/null; then
    systemd-sysusers /etc/sysusers.d/moe4.conf
  elif ! id moe4 >/dev/null 2>&1; then
    useradd --system --user-group --home-dir /var/lib/moe4 --no-create-home --shell /usr/sbin/nologin moe4
  fi
  group=moe4
else
  install -D -m 0644 "$src/deploy/systemd/moe4.sysusers" "$root/etc/sysusers.d/moe4.conf"
fi

for b in "${bins[@]}"; do
  install -D -m 0755 "$build/$b" "$root$prefix/bin/$(basename "$b")"
done
install -D -m 0644 "$src/docs/deploy.md" "$root$prefix/share/doc/moe4/deploy.md"
((with_coordinator)) && install -D -m 0755 "$src/deploy/db-init.sh" "$root$prefix/share/moe4/db-init.sh"

# The units name /usr/local; another prefix is rewritten on the way.
install_unit() {
  local unit=$1 tmp
  tmp=$(mktemp)
  sed -e "s|/usr/local/|$prefix/|g" "$src/deploy/systemd/$unit" >"$tmp"
  install -D -m 0644 "$tmp" "$unitdir/$unit"
  rm -f "$tmp"
}
((with_coordinator)) && install_unit moe4-coordinator.service
((with_worker)) && install_unit moe4-worker@.service

# Settings: readable by the daemons' group (TLS keys live under it too),
# written once from the examples and then left to the administrator.
install -d -m 0750 "$etc" "$etc/tls"
[[ -z "$root" ]] && chown root:"$group" "$etc" "$etc/tls"
config() {
  local example=$1 target=$2
  if [[ -e "$target" ]]; then
    echo "install: $target exists, kept"
  else
    install -m 0640 "$src/deploy/systemd/$example" "$target"
    [[ -z "$root" ]] && chown root:"$group" "$target"
    echo "install: $target created: edit it"
  fi
}
((with_coordinator)) && config coordinator.env.example "$etc/coordinator.env"
((with_worker)) && config worker.env.example "$etc/worker.env"

# Tokens: root-only files; systemd hands each service its own copy
# (LoadCredential=), so the daemons' user never needs to read these.
new_token() {
  local target=$1
  if [[ -s "$target" ]]; then echo "install: $target exists, kept"; return; fi
  (
    umask 077
    head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n' >"$target.tmp"
    echo >>"$target.tmp"
  )
  mv "$target.tmp" "$target"
  echo "install: $target generated"
}
if ((with_coordinator)); then
  new_token "$etc/admin.token"
  new_token "$etc/worker.token"
elif [[ -n "$worker_token" ]]; then
  if [[ -s "$etc/worker.token" ]] && cmp -s "$worker_token" "$etc/worker.token"; then
    echo "install: $etc/worker.token up to date"
  else
    install -m 0600 "$worker_token" "$etc/worker.token"
    echo "install: $etc/worker.token installed"
  fi
fi
for t in "$etc"/*.token; do
  [[ -e "$t" ]] || continue
  chmod 0600 "$t"
  [[ -z "$root" ]] && chown root:root "$t"
done
if ((with_worker)) && [[ ! -s "$etc/worker.token" ]]; then
  echo "install: NOTE: no $etc/worker.token yet: copy /etc/moe4/worker.token from the coordinator host" \
       "(install -m 0600 it, or rerun with --worker-token FILE)"
fi

[[ -n "$root" ]] && { echo "install: staged under $root"; exit 0; }
systemctl daemon-reload
if ((enable)); then
  ((with_coordinator)) && systemctl enable --now moe4-coordinator.service
  if ((with_worker)); then
    if [[ -z "$gpus" ]] && command -v nvidia-smi >/dev/null; then
      gpus=$(nvidia-smi --query-gpu=index --format=csv,noheader | paste -sd, -)
    fi
    [[ -n "$gpus" ]] || die "no GPU found: pass --gpus LIST (or 'cpu' for a CPU worker)"
    IFS=, read -r -a list <<<"$gpus"
    for g in "${list[@]}"; do systemctl enable --now "moe4-worker@$g.service"; done
  fi
else
  ((with_coordinator)) && echo "install: next: edit $etc/coordinator.env, then systemctl enable --now moe4-coordinator"
  ((with_worker)) && echo "install: next: edit $etc/worker.env, then systemctl enable --now moe4-worker@0 (one per GPU)"
fi
echo "install: done"
