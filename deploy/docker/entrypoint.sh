#!/bin/sh
# Entry point of the moe4 images. libpq takes the database password from
# PGPASSWORD; reading it here from a mounted secret file keeps it out of the
# image, the compose file, the pod spec and `docker inspect`. (A PGPASSFILE
# would not do: libpq ignores one that is group- or world-readable, which is
# how Compose and Kubernetes present secret files to a non-root user.)
set -eu
if [ -n "${MOE4_DB_PASSWORD_FILE:-}" ]; then
  PGPASSWORD=$(cat "$MOE4_DB_PASSWORD_FILE")
  export PGPASSWORD
fi
exec "$@"
