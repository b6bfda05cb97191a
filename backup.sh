#!/usr/bin/env bash
# Drop-in replacement for the old backup.sh: same settings (environment
# variables and .env), same folder layout, same crontab line:
#
#   0 2 * * * cd /path/to/backend-directus && ./backup.sh >> /var/log/backups.log 2>&1
#
# It runs `directus-backup backup` with the environment it was given. The
# binary is looked up in $DIRECTUS_BACKUP_BIN, beside this script, in ./bin,
# then on PATH.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
for bin in "${DIRECTUS_BACKUP_BIN:-}" "$here/directus-backup" "$here/bin/directus-backup" "$(command -v directus-backup || true)"; do
  if [ -n "$bin" ] && [ -x "$bin" ]; then
    exec "$bin" backup "$@"
  fi
done
echo "$(date '+%Y-%m-%d %H:%M:%S') ERROR: directus-backup binary not found: build it with 'make build' or set DIRECTUS_BACKUP_BIN" >&2
exit 3
