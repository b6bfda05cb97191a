# Helpers to build and run a throwaway SMTP server (mailpit) for the
# notification tests; sourced by scripts/test.sh. Exports
# DIRECTUS_BACKUP_TEST_SMTP_ADDR (host:port, plain SMTP accepting any login)
# and DIRECTUS_BACKUP_TEST_MAILPIT_API (its HTTP API's base URL).
#
# Built once into the same cache as versitygw (scripts/s3.sh).

# shellcheck source=scripts/ports.sh
. "$(dirname "${BASH_SOURCE[0]}")/ports.sh"

MAIL_MAILPIT_VERSION=v1.33.1
MAIL_TOOLS_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/directus-backup-tools"
MAIL_BIN="$MAIL_TOOLS_DIR/bin/mailpit"

mail_install_if_missing() {
  [ -x "$MAIL_BIN" ] && return 0
  log "building mailpit $MAIL_MAILPIT_VERSION into $MAIL_TOOLS_DIR/bin (once)"
  mkdir -p "$MAIL_TOOLS_DIR/bin"
  GOBIN="$MAIL_TOOLS_DIR/bin" go install "github.com/axllent/mailpit@$MAIL_MAILPIT_VERSION"
}

mail_start() {
  MAIL_DIR=$(mktemp -d /tmp/directus-backup-mail.XXXXXX)
  local smtp http
  smtp=$(free_port 28025) || { log "no free port for the SMTP server"; return 1; }
  http=$(free_port 28125) || { log "no free port for mailpit's API"; return 1; }
  # Any login is accepted over plain SMTP: the tests check that the
  # password in the URL is used and never shown, not that it is right.
  "$MAIL_BIN" --smtp "127.0.0.1:$smtp" --listen "127.0.0.1:$http" \
    --database "$MAIL_DIR/mailpit.db" --smtp-auth-accept-any --smtp-auth-allow-insecure \
    --smtp-disable-rdns --quiet >"$MAIL_DIR/mailpit.log" 2>&1 &
  MAIL_PID=$!
  local i up=
  for i in $(seq 1 100); do
    if ! kill -0 "$MAIL_PID" 2>/dev/null; then
      log "mailpit exited at start; the end of its log:"
      tail -n 20 "$MAIL_DIR/mailpit.log" >&2
      MAIL_PID=
      return 1
    fi
    if (exec 3<>"/dev/tcp/127.0.0.1/$smtp") 2>/dev/null && (exec 3<>"/dev/tcp/127.0.0.1/$http") 2>/dev/null; then
      up=1
      break
    fi
    sleep 0.1
  done
  if [ -z "$up" ]; then
    log "mailpit did not answer on 127.0.0.1:$smtp and :$http within 10s; the end of its log:"
    tail -n 20 "$MAIL_DIR/mailpit.log" >&2
    return 1
  fi
  export DIRECTUS_BACKUP_TEST_SMTP_ADDR="127.0.0.1:$smtp"
  export DIRECTUS_BACKUP_TEST_MAILPIT_API="http://127.0.0.1:$http"
  log "mailpit running: SMTP on 127.0.0.1:$smtp, API on http://127.0.0.1:$http"
}

mail_stop() {
  if [ -n "${MAIL_PID:-}" ]; then
    kill "$MAIL_PID" 2>/dev/null || true
    wait "$MAIL_PID" 2>/dev/null || true
    MAIL_PID=
  fi
  if [ -n "${MAIL_DIR:-}" ]; then
    rm -rf "$MAIL_DIR"
    MAIL_DIR=
  fi
}
