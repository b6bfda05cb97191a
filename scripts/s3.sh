# Helpers to build and run a throwaway S3 server (versitygw, posix backend)
# for the offsite tests; sourced by scripts/test.sh. Exports
# DIRECTUS_BACKUP_TEST_S3_{ENDPOINT,ACCESS_KEY,SECRET_KEY,DIR}.
#
# The binary is built once into a cache outside the repository, so CI and
# later runs do not rebuild it (the build takes about a minute).

# shellcheck source=scripts/ports.sh
. "$(dirname "${BASH_SOURCE[0]}")/ports.sh"

S3_VERSITYGW_VERSION=v1.8.0
S3_TOOLS_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/directus-backup-tools"
S3_BIN="$S3_TOOLS_DIR/bin/versitygw"

s3_install_if_missing() {
  [ -x "$S3_BIN" ] && return 0
  log "building versitygw $S3_VERSITYGW_VERSION into $S3_TOOLS_DIR/bin (once)"
  mkdir -p "$S3_TOOLS_DIR/bin"
  GOBIN="$S3_TOOLS_DIR/bin" go install "github.com/versity/versitygw/cmd/versitygw@$S3_VERSITYGW_VERSION"
}

s3_start() {
  S3_DIR=$(mktemp -d /tmp/directus-backup-s3.XXXXXX)
  mkdir "$S3_DIR/root" "$S3_DIR/versions" "$S3_DIR/iam"
  local port
  port=$(free_port 27070) || { log "no free port for the S3 server"; return 1; }
  DIRECTUS_BACKUP_TEST_S3_ACCESS_KEY="ak$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
  DIRECTUS_BACKUP_TEST_S3_SECRET_KEY="sk$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
  # The keys go through the environment, not argv, so ps does not show
  # them. --versioning-dir: the posix backend supports object lock only
  # with versioning enabled. --iam-dir: accounts other than root, so tests
  # can give a key only some rights (a bucket policy).
  ROOT_ACCESS_KEY_ID=$DIRECTUS_BACKUP_TEST_S3_ACCESS_KEY \
    ROOT_SECRET_ACCESS_KEY=$DIRECTUS_BACKUP_TEST_S3_SECRET_KEY \
    "$S3_BIN" --port "127.0.0.1:$port" --quiet --iam-dir "$S3_DIR/iam" \
    posix --versioning-dir "$S3_DIR/versions" "$S3_DIR/root" \
    >"$S3_DIR/versitygw.log" 2>&1 &
  S3_PID=$!
  local i up=
  for i in $(seq 1 100); do
    if ! kill -0 "$S3_PID" 2>/dev/null; then
      log "versitygw exited at start; the end of its log:"
      tail -n 20 "$S3_DIR/versitygw.log" >&2
      S3_PID=
      return 1
    fi
    # It listens only once the backend is ready.
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      up=1
      break
    fi
    sleep 0.1
  done
  if [ -z "$up" ]; then
    log "versitygw did not answer on 127.0.0.1:$port within 10s; the end of its log:"
    tail -n 20 "$S3_DIR/versitygw.log" >&2
    return 1
  fi
  export DIRECTUS_BACKUP_TEST_S3_ENDPOINT="127.0.0.1:$port"
  export DIRECTUS_BACKUP_TEST_S3_ACCESS_KEY DIRECTUS_BACKUP_TEST_S3_SECRET_KEY
  export DIRECTUS_BACKUP_TEST_S3_DIR="$S3_DIR/root"
  export DIRECTUS_BACKUP_TEST_S3_BIN="$S3_BIN"
  log "versitygw running on 127.0.0.1:$port (objects in $S3_DIR/root)"
}

s3_stop() {
  if [ -n "${S3_PID:-}" ]; then
    kill "$S3_PID" 2>/dev/null || true
    wait "$S3_PID" 2>/dev/null || true
    S3_PID=
  fi
  if [ -n "${S3_DIR:-}" ]; then
    rm -rf "$S3_DIR"
    S3_DIR=
  fi
}
