#!/usr/bin/env bash
# A complete demo on a fresh machine: installs PostgreSQL when missing,
# starts a throwaway cluster with a small Directus-like database, makes an
# uploads folder, builds directus-backup, then runs a full backup, changes
# some files and rows, runs an incremental backup, lists and verifies the
# backups (with a restore test), loses the database and the uploads and
# restores both with `directus-backup restore`, and finally restores the
# latest dump once more with the original backup.sh's own manual command.
#
#   scripts/demo.sh            (results stay in $DEMO_DIR, default /tmp/directus-backup-demo)
#
# It deletes $DEMO_DIR before it starts, but only a folder an earlier demo
# made (it holds the marker file .directus-backup-demo) or an empty one.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
log() { printf '\n\033[1m== %s\033[0m\n' "$*" >&2; }

DEMO_DIR=${DEMO_DIR:-/tmp/directus-backup-demo}
DEMO_MARK=.directus-backup-demo
# Checked before anything else is done: a mistyped DEMO_DIR must never
# cost anyone a folder.
if [ -e "$DEMO_DIR" ] || [ -L "$DEMO_DIR" ]; then
  if [ -d "$DEMO_DIR" ] && [ ! -L "$DEMO_DIR" ] && [ -f "$DEMO_DIR/$DEMO_MARK" ] && [ ! -L "$DEMO_DIR/$DEMO_MARK" ]; then
    rm -rf "$DEMO_DIR"
  elif [ -d "$DEMO_DIR" ] && [ ! -L "$DEMO_DIR" ] && [ -z "$(ls -A "$DEMO_DIR")" ]; then
    rmdir "$DEMO_DIR"
  else
    echo "demo.sh: refusing to delete $DEMO_DIR: it is not empty and was not made by demo.sh (no $DEMO_MARK file in it)." >&2
    echo "demo.sh: set DEMO_DIR to a new or empty folder, or remove $DEMO_DIR yourself." >&2
    exit 1
  fi
fi
mkdir -p "$DEMO_DIR"
echo "made by scripts/demo.sh; the next demo run deletes this folder" > "$DEMO_DIR/$DEMO_MARK"

# shellcheck source=scripts/ensure-go.sh
. scripts/ensure-go.sh
ensure_go . || exit 1
# shellcheck source=scripts/pg.sh
. scripts/pg.sh
pg_install_if_missing
pg_start_cluster
trap pg_stop_cluster EXIT

log "building bin/directus-backup"
CGO_ENABLED=0 go build -trimpath -ldflags "-X main.version=$(git describe --tags --always --dirty 2>/dev/null || echo dev)" -o bin/directus-backup ./cmd/directus-backup
BIN=$PWD/bin/directus-backup

export PGHOST=$DIRECTUS_BACKUP_TEST_PGHOST PGPORT=$DIRECTUS_BACKUP_TEST_PGPORT
export PGUSER=$DIRECTUS_BACKUP_TEST_PGUSER PGPASSWORD=$DIRECTUS_BACKUP_TEST_PGPASSWORD
DEMO_PASSWORD="demo-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
log "creating a Directus-like database 'directus' owned by role 'directus'"
psql -X -q -v ON_ERROR_STOP=1 -d postgres <<SQL
CREATE ROLE directus LOGIN CREATEDB PASSWORD '$DEMO_PASSWORD';
CREATE DATABASE directus OWNER directus;
SQL
# One psql call loads everything (one call per file cost ~55 s on a slow
# machine). The uploads made below have the sizes this formula gives.
PGUSER=directus PGPASSWORD=$DEMO_PASSWORD psql -X -q -v ON_ERROR_STOP=1 -d directus <<'SQL'
CREATE TABLE directus_users (id uuid PRIMARY KEY, email text UNIQUE, first_name text, status text);
CREATE TABLE directus_files (id uuid PRIMARY KEY, filename_disk text, filename_download text, filesize bigint);
CREATE TABLE articles (id serial PRIMARY KEY, title text, body text, data jsonb, published timestamptz);
INSERT INTO directus_users SELECT md5(i::text)::uuid, 'user'||i||'@example.com', 'User '||i, 'active' FROM generate_series(1,50) i;
INSERT INTO articles (title, body, data, published)
  SELECT 'Article '||i, repeat('Lorem ipsum dolor sit amet. ', 40), jsonb_build_object('n', i, 'tags', ARRAY['a','b']), now() - i * interval '1 hour'
  FROM generate_series(1,5000) i;
INSERT INTO directus_files
  SELECT md5('f'||i)::uuid, 'file-'||i||'.bin', 'File '||i||'.bin', (i * 7919) % 60000 + 100
  FROM generate_series(1,200) i;
SQL

UPLOADS=$DEMO_DIR/directus/uploads
mkdir -p "$UPLOADS"
for i in $(seq 1 200); do
  head -c $(( (i * 7919) % 60000 + 100 )) /dev/urandom > "$UPLOADS/file-$i.bin"
done
mkdir -p "$UPLOADS/thumbnails" "$UPLOADS/empty-folder"
echo "hello" > "$UPLOADS/thumbnails/hello world.txt"

# The settings a Directus deployment has in its .env file.
cat > "$DEMO_DIR/.env" <<ENV
DB_CLIENT=pg
DB_HOST=$PGHOST
DB_PORT=$PGPORT
DB_DATABASE=directus
DB_USER=directus
DB_PASSWORD=$DEMO_PASSWORD
STORAGE_LOCAL_ROOT=./directus/uploads
BACKUPS_DIR=./directus/data/backups
BACKUP_RETENTION_DAYS=7
ENV
chmod 600 "$DEMO_DIR/.env"
cd "$DEMO_DIR"

log "directus-backup doctor"
"$BIN" doctor

log "first backup (full)"
"$BIN" backup --no-progress

log "a day of changes: 2 files changed, 1 added, 1 deleted, 10 rows updated"
sleep 1.1 # a new BACKUP_TIMESTAMP
head -c 5000 /dev/urandom > directus/uploads/file-1.bin
head -c 5000 /dev/urandom > directus/uploads/file-2.bin
head -c 7000 /dev/urandom > directus/uploads/new-file.bin
rm directus/uploads/file-3.bin
PGUSER=directus PGPASSWORD=$DEMO_PASSWORD psql -X -q -d directus <<'SQL'
UPDATE articles SET title = title || ' (edited)' WHERE id <= 10;
DELETE FROM directus_files WHERE filename_disk = 'file-3.bin';
INSERT INTO directus_files VALUES (md5('new')::uuid, 'new-file.bin', 'New file.bin', 7000);
SQL

log "second backup (incremental: unchanged files are hard links)"
"$BIN" backup --no-progress

log "the backups folder"
ls -la directus/data/backups
latest=directus/data/backups/backup_latest
echo "inode of file-10.bin in both backups (the same inode = hard link):"
for b in directus/data/backups/backup_2*; do stat -c '%i  %n' "$b/uploads/file-10.bin"; done

log "directus-backup list"
"$BIN" list

log "directus-backup verify --all, then a restore test of the latest backup"
"$BIN" verify --all
"$BIN" verify --restore-test

log "disaster: the database and the uploads folder are gone"
psql -X -q -d postgres -c "DROP DATABASE directus WITH (FORCE)"
rm -rf directus/uploads

log "directus-backup restore --create (database and uploads from backup_latest)"
"$BIN" restore --create
echo "articles edited before the backup, in the restored database: $(psql -X -At -d directus -c "SELECT COUNT(*) FROM articles WHERE title LIKE '%(edited)'")"
echo "files in the restored uploads folder: $(find directus/uploads -type f | wc -l)"

log "the original backup.sh's manual restore still works: into a scratch database"
createdb -O directus test_restore
gunzip -t "$latest/db_backup.sql.gz" && echo "gunzip -t: OK"
gunzip -c "$latest/db_backup.sql.gz" | PGUSER=directus PGPASSWORD=$DEMO_PASSWORD psql -X -q -d test_restore >/dev/null
echo "SELECT COUNT(*) FROM directus_users in the restored database: $(psql -X -At -d test_restore -c 'SELECT COUNT(*) FROM directus_users')"
echo "edited articles in the restored database: $(psql -X -At -d test_restore -c "SELECT COUNT(*) FROM articles WHERE title LIKE '%(edited)'")"

log "offsite: a local S3 server (versitygw), a key pair made with age-keygen, an encrypted push"
# shellcheck source=scripts/s3.sh
. "$REPO/scripts/s3.sh"
s3_install_if_missing
s3_start
trap 's3_stop; pg_stop_cluster' EXIT
command -v age-keygen >/dev/null || { log "installing age (apt-get)"; DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq age >/dev/null; }
ADMIN_ACCESS_KEY_ID=$DIRECTUS_BACKUP_TEST_S3_ACCESS_KEY ADMIN_SECRET_ACCESS_KEY=$DIRECTUS_BACKUP_TEST_S3_SECRET_KEY \
  "$DIRECTUS_BACKUP_TEST_S3_BIN" admin --endpoint-url "http://$DIRECTUS_BACKUP_TEST_S3_ENDPOINT" \
  create-bucket --bucket demo-offsite --owner "$DIRECTUS_BACKUP_TEST_S3_ACCESS_KEY"
age-keygen -o "$DEMO_DIR/offsite.key" 2>/dev/null   # in real life: on another machine, kept offline
export BACKUP_S3_ENDPOINT="http://$DIRECTUS_BACKUP_TEST_S3_ENDPOINT" BACKUP_S3_BUCKET=demo-offsite BACKUP_S3_PREFIX=demo/
export BACKUP_S3_ACCESS_KEY_ID=$DIRECTUS_BACKUP_TEST_S3_ACCESS_KEY BACKUP_S3_SECRET_ACCESS_KEY=$DIRECTUS_BACKUP_TEST_S3_SECRET_KEY
BACKUP_AGE_RECIPIENTS=$(age-keygen -y "$DEMO_DIR/offsite.key")
export BACKUP_AGE_RECIPIENTS
echo "BACKUP_AGE_RECIPIENTS=$BACKUP_AGE_RECIPIENTS (the public key; the private key stays in $DEMO_DIR/offsite.key)"
"$BIN" offsite push --all
log "a third backup pushes itself: only what changed is sent"
psql -X -q -d directus -c "UPDATE articles SET title = title || ' (again)' WHERE id <= 5"
sleep 1.1 # a new BACKUP_TIMESTAMP
"$BIN" backup -q --no-progress
"$BIN" offsite list
echo "the bucket's files that name an uploads file (file-10.bin) in the clear: $(grep -rl 'file-10.bin' "$DIRECTUS_BACKUP_TEST_S3_DIR/demo-offsite" | wc -l)"

log "second disaster: the server is gone with its backups; restore --offsite from the bucket, with the private key"
psql -X -q -d postgres -c "DROP DATABASE directus WITH (FORCE)"
rm -rf directus/uploads directus/data/backups
BACKUP_AGE_IDENTITY_FILE="$DEMO_DIR/offsite.key" "$BIN" restore --offsite --create
echo "articles edited (again) in the database restored from the bucket: $(psql -X -At -d directus -c "SELECT COUNT(*) FROM articles WHERE title LIKE '%(again)'")"
echo "files in the uploads folder restored from the bucket: $(find directus/uploads -type f | wc -l)"

log "done: the demo's files are in $DEMO_DIR (the database and S3 servers are stopped now)"
