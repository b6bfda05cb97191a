# Helpers to install and run a throwaway PostgreSQL cluster; sourced by
# scripts/test.sh and scripts/demo.sh. Exports the cluster's address as
# DIRECTUS_BACKUP_TEST_PG{HOST,PORT,USER,PASSWORD} and PG_BIN. The server
# also accepts TLS (ssl = on, plain connections still work) with a
# certificate for localhost and 127.0.0.1 signed by a throwaway CA, whose
# certificate is DIRECTUS_BACKUP_TEST_PG_CA (its key beside it, ca.key, for
# client certificates); the server trusts client certificates it signed.

# shellcheck source=scripts/ports.sh
. "$(dirname "${BASH_SOURCE[0]}")/ports.sh"

pg_find_bin() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
      PG_BIN=$d
    fi
  done
  [ -n "${PG_BIN:-}" ]
}

pg_install_if_missing() {
  local need=()
  pg_find_bin || need+=(postgresql-15)
  command -v psql >/dev/null || need+=(postgresql-client-15)
  command -v pg_dump >/dev/null || need+=(postgresql-client-15)
  command -v gzip >/dev/null || need+=(gzip)
  command -v rsync >/dev/null || need+=(rsync)
  command -v zstd >/dev/null || need+=(zstd)
  command -v python3 >/dev/null || need+=(python3) # a second gzip reader for the dump tests
  command -v ps >/dev/null || need+=(procps)
  command -v chattr >/dev/null || need+=(e2fsprogs)
  command -v openssl >/dev/null || need+=(openssl) # the test cluster's TLS certificates
  if [ ${#need[@]} -gt 0 ]; then
    log "installing ${need[*]} (apt-get)"
    if [ "$(id -u)" -ne 0 ]; then
      log "not root: install ${need[*]} yourself (sudo apt-get install ${need[*]})"
      return 1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    # The Debian package would start its own cluster on 5432; we only want
    # the binaries, so keep the package's scripts from starting a service.
    local made_policy=
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
      chmod +x /usr/sbin/policy-rc.d
      made_policy=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    [ -n "$made_policy" ] && rm -f /usr/sbin/policy-rc.d
    pg_find_bin
  fi
}

pg_start_cluster() {
  PG_DIR=$(mktemp -d /tmp/directus-backup-pg.XXXXXX)
  chmod 755 "$PG_DIR"
  local run_as=()
  if [ "$(id -u)" -eq 0 ]; then
    # postgres refuses to run as root.
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    chown postgres "$PG_DIR"
    run_as=(runuser -u postgres --)
  fi
  DIRECTUS_BACKUP_TEST_PGPASSWORD="pw-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
  printf '%s\n' "$DIRECTUS_BACKUP_TEST_PGPASSWORD" > "$PG_DIR/pwfile"
  chmod 600 "$PG_DIR/pwfile"
  [ "$(id -u)" -eq 0 ] && chown postgres "$PG_DIR/pwfile"
  "${run_as[@]}" "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres --pwfile="$PG_DIR/pwfile" \
    --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$PG_DIR/initdb.log" 2>&1 \
    || { cat "$PG_DIR/initdb.log" >&2; return 1; }
  rm -f "$PG_DIR/pwfile"
  pg_make_certs || return 1
  local port=25431 try
  for try in 1 2 3; do
    port=$(free_port $((port + 1))) || { log "no free port for PostgreSQL"; return 1; }
    if "${run_as[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
      -o "-p $port -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c ssl=on -c ssl_cert_file=$PG_DIR/tls/server.crt -c ssl_key_file=$PG_DIR/tls/server.key -c ssl_ca_file=$PG_DIR/tls/ca.crt" start >/dev/null; then
      break
    fi
    # Taken between the check and the bind: try the next one.
    [ "$try" -lt 3 ] || { cat "$PG_DIR/server.log" >&2; return 1; }
  done
  export DIRECTUS_BACKUP_TEST_PGHOST=127.0.0.1
  export DIRECTUS_BACKUP_TEST_PGPORT=$port
  export DIRECTUS_BACKUP_TEST_PGUSER=postgres
  export DIRECTUS_BACKUP_TEST_PGPASSWORD
  export DIRECTUS_BACKUP_TEST_PG_CA=$PG_DIR/tls/ca.crt
  export PG_BIN PG_DIR
  log "PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') running on 127.0.0.1:$port (data in $PG_DIR)"
}

# pg_make_certs makes a CA and a server certificate (localhost, 127.0.0.1)
# in $PG_DIR/tls; the server's key is readable only by the server.
pg_make_certs() {
  local d=$PG_DIR/tls
  mkdir -p "$d"
  (
    cd "$d" &&
      openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=directus-backup test CA" \
        -keyout ca.key -out ca.crt &&
      openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout server.key -out server.csr &&
      printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > san.ext &&
      openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
        -extfile san.ext -out server.crt
  ) >"$PG_DIR/openssl.log" 2>&1 || { cat "$PG_DIR/openssl.log" >&2; return 1; }
  # ca.key stays (mode 0600) so that tests can sign client certificates.
  rm -f "$d/server.csr"
  chmod 755 "$d"
  chmod 644 "$d/ca.crt" "$d/server.crt"
  chmod 600 "$d/server.key" "$d/ca.key"
  [ "$(id -u)" -eq 0 ] && chown postgres "$d/server.key"
  return 0
}

pg_stop_cluster() {
  [ -n "${PG_DIR:-}" ] || return 0
  local run_as=()
  [ "$(id -u)" -eq 0 ] && run_as=(runuser -u postgres --)
  "${run_as[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$PG_DIR"
}
