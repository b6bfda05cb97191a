#!/usr/bin/env bash
# Runs the benchmark end to end on a fresh Debian 12 machine:
#
#   bench/run.sh [--size smoke|small|large] [--reps N] [--out FILE] [--memory]
#                [--scenarios full,incremental,...] [--recheck-percent N] [--load N]
#
# Installs what is missing (PostgreSQL 15, rsync, gzip, ... with apt-get,
# as root), starts a throwaway PostgreSQL cluster (scripts/pg.sh) and, for
# the offsite-* scenarios, a throwaway S3 server (scripts/s3.sh), builds
# directus-backup and the harness, generates the dataset, runs every
# scenario for the shell baseline (bench/baseline.sh) and directus-backup,
# writes bench/results/<size>-<date>.md (and .json), and stops the servers.
# Scratch data goes to ${BENCH_DIR:-/tmp/directus-backup-bench}, emptied at
# the start and removed at the end.
#
# Exit code: 0 when every run worked and the report was written; non-zero
# when something is broken (a run failed, a backup was incomplete, the
# report is missing). Never because of a measured ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

log() { printf '%s run.sh: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

usage() {
  sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

SIZE=small
SCENARIOS=
REPS=
OUT=
EXTRA=()
while [ $# -gt 0 ]; do
  case $1 in
    --size) SIZE=${2:?}; shift 2 ;;
    --size=*) SIZE=${1#*=}; shift ;;
    --reps) REPS=${2:?}; shift 2 ;;
    --reps=*) REPS=${1#*=}; shift ;;
    --out) OUT=${2:?}; shift 2 ;;
    --out=*) OUT=${1#*=}; shift ;;
    --memory) EXTRA+=(-memory); shift ;;
    --scenarios) SCENARIOS=${2:?}; EXTRA+=(-scenarios "$SCENARIOS"); shift 2 ;;
    --scenarios=*) SCENARIOS=${1#*=}; EXTRA+=(-scenarios "$SCENARIOS"); shift ;;
    --recheck-percent) EXTRA+=(-recheck-percent "${2:?}"); shift 2 ;;
    --recheck-percent=*) EXTRA+=(-recheck-percent "${1#*=}"); shift ;;
    --load) EXTRA+=(-load "${2:?}"); shift 2 ;;
    --load=*) EXTRA+=(-load "${1#*=}"); shift ;;
    -h|--help) usage ;;
    *) log "unknown argument: $1"; usage ;;
  esac
done
case $SIZE in smoke|small|large) ;; *) log "--size must be smoke, small or large"; exit 2 ;; esac
if [ -z "$REPS" ]; then
  if [ "$SIZE" = smoke ]; then REPS=1; else REPS=3; fi
fi
[ -n "$OUT" ] || OUT="bench/results/$SIZE-$(date +%Y-%m-%d).md"
case $OUT in /*) ;; *) OUT="$ROOT/$OUT" ;; esac

BENCH_DIR=${BENCH_DIR:-/tmp/directus-backup-bench}
case $BENCH_DIR in
  /|/tmp|/home|/root|"$ROOT") log "refusing BENCH_DIR=$BENCH_DIR"; exit 2 ;;
esac

# shellcheck source=scripts/pg.sh
. scripts/pg.sh
# shellcheck source=scripts/s3.sh
. scripts/s3.sh

# The offsite-* scenarios (run by default, or named) need an S3 server.
NEED_S3=
case ",$SCENARIOS," in ,,|*,offsite-*) NEED_S3=1 ;; esac

HARNESS_PID=
cleanup() {
  local rc=$?
  pg_stop_cluster
  s3_stop
  rm -rf "$BENCH_DIR"
  exit "$rc"
}
on_signal() {
  # The harness stops its own children (each in its process group) on
  # SIGTERM, then exits; only then are the cluster and BENCH_DIR removed.
  if [ -n "$HARNESS_PID" ]; then
    kill -TERM "$HARNESS_PID" 2>/dev/null || true
    wait "$HARNESS_PID" 2>/dev/null || true
  fi
  exit 130
}
trap cleanup EXIT
trap on_signal INT TERM HUP

# Tools: PostgreSQL (server, client, pgbench), gzip, rsync, procps, e2fsprogs
# come through pg.sh; coreutils and findutils are in every Debian install,
# but check what the baseline and the harness call.
pg_install_if_missing
need=()
for c in find xargs sha256sum stat cp; do
  command -v "$c" >/dev/null || need+=("$c")
done
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    log "missing ${need[*]}: sudo apt-get install coreutils findutils"
    exit 1
  fi
  log "installing coreutils findutils (apt-get)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends coreutils findutils >/dev/null
fi
command -v go >/dev/null || { log "go not found: install Go 1.26 or newer (see README.md)"; exit 1; }

rm -rf "$BENCH_DIR"
mkdir -p "$BENCH_DIR/bin"

log "building directus-backup, the harness and bench-s3"
CGO_ENABLED=0 go build -o "$BENCH_DIR/bin/directus-backup" ./cmd/directus-backup
go build -o "$BENCH_DIR/bin/bench" ./bench/cmd/bench
# The offsite scenarios' S3 client (and age), apart from the harness so
# that the harness's own binary, the wrapper of every measured child, stays small.
go build -o "$BENCH_DIR/bin/bench-s3" ./bench/cmd/bench-s3

COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then
  COMMIT="$COMMIT (with uncommitted changes)"
fi

pg_start_cluster
if [ -n "$NEED_S3" ]; then
  s3_install_if_missing
  s3_start
fi

log "running the harness: size $SIZE, $REPS rep(s)"
set +e
# In the background, so that a signal reaches on_signal at once.
"$BENCH_DIR/bin/bench" run \
  -size "$SIZE" -reps "$REPS" -out "$OUT" \
  -work "$BENCH_DIR/work" \
  -tool "$BENCH_DIR/bin/directus-backup" \
  -baseline "$ROOT/bench/baseline.sh" \
  -pg-bin "$PG_BIN" \
  -commit "$COMMIT" \
  ${EXTRA[@]+"${EXTRA[@]}"} &
HARNESS_PID=$!
wait "$HARNESS_PID"
rc=$?
HARNESS_PID=
set -e
if [ $rc -eq 0 ] && [ ! -s "$OUT" ]; then
  log "the report $OUT is missing"
  rc=1
fi
if [ $rc -eq 0 ]; then
  log "done: $OUT"
else
  log "FAILED (exit $rc); report (if any): $OUT"
fi
exit $rc
