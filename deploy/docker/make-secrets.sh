#!/usr/bin/env bash
# Creates the secret files docker-compose.yml mounts, once: existing files are
# kept, so re-running never changes a token or a password under a running
# system (docs/deploy.md has rotation).
#
#   deploy/docker/make-secrets.sh [DIR]     # default ./secrets, or $MOE4_SECRETS_DIR
#
# Compose bind-mounts secret files with their host owner and mode, and the
# containers run as other users (10001, postgres's 999): the files must be
# world-readable, so the directory is what keeps other host users out (0700).
set -euo pipefail
dir=${1:-${MOE4_SECRETS_DIR:-./secrets}}
install -d -m 0700 "$dir"
chmod 0700 "$dir"
# Inside a clone, `git add -A` must never pick the secrets up.
if git -C "$dir" rev-parse --is-inside-work-tree >/dev/null 2>&1 && ! git -C "$dir" check-ignore -q .; then
  echo "make-secrets: WARNING: $dir is not ignored by git: add it to .gitignore" >&2
fi
for name in admin.token worker.token moe4-db.password postgres.password; do
  file=$dir/$name
  if [[ -s "$file" ]]; then
    echo "make-secrets: $file exists, kept"
  else
    # 32 random bytes, URL-safe base64: fine in a bearer header and in SQL.
    head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n' >"$file.tmp"
    echo >>"$file.tmp"
    mv "$file.tmp" "$file"
    echo "make-secrets: $file created"
  fi
  chmod 0644 "$file"
done
