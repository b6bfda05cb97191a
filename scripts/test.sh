#!/usr/bin/env bash
# Runs the whole test suite against a throwaway PostgreSQL cluster.
#
#   scripts/test.sh [go test flags...]
#
# Fetches a Go toolchain when go is missing or older than go.mod asks
# (scripts/ensure-go.sh). Installs PostgreSQL 15 (and the other tools the tests use) when they are
# missing, starts a private cluster on a free loopback port with password
# authentication, runs `go vet` and `go test`, then stops and deletes the
# cluster. It also starts a throwaway S3 server (versitygw, built once into
# ~/.cache/directus-backup-tools; scripts/s3.sh) for the offsite tests, and
# a throwaway SMTP server (mailpit, same cache; scripts/mail.sh) for the
# notification tests; without go test flags, it also runs
# scripts/directus-e2e.sh against the cluster, in its three .env styles: a
# real Directus backed up and restored.
# Integration tests must not skip when run from here.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[test.sh] %s\n' "$*" >&2; }

# shellcheck source=scripts/ensure-go.sh
. scripts/ensure-go.sh
ensure_go . || exit 1
# shellcheck source=scripts/pg.sh
. scripts/pg.sh
# shellcheck source=scripts/s3.sh
. scripts/s3.sh
# shellcheck source=scripts/mail.sh
. scripts/mail.sh

pg_install_if_missing
s3_install_if_missing
mail_install_if_missing
trap 'mail_stop; s3_stop; pg_stop_cluster' EXIT
pg_start_cluster
s3_start
mail_start

export DIRECTUS_BACKUP_TEST_REQUIRE_PG=1

log "go vet ./..."
go vet ./...
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  log "gofmt would change: $unformatted"
  exit 1
fi

# A real Directus backed up and restored (scripts/directus-e2e.sh; about
# 30 s once Directus is in ~/.cache/directus-backup-tools, about 12 minutes
# for the first install). Before go test, whose summary closes the output.
# Skipped only in a focused run (go test flags given).
# Then the same with Directus's type prefixes and NAME_FILE variables in the
# .env (about 23-26 s each at load average 3).
if [ $# -eq 0 ]; then
  for style in plain cast files; do
    log "scripts/directus-e2e.sh --env-style=$style"
    scripts/directus-e2e.sh --env-style=$style
  done
else
  log "go test flags given: scripts/directus-e2e.sh not run (run it alone, or scripts/test.sh without flags)"
fi

log "go test ./..."
go test -count=1 -timeout 15m "$@" ./...
