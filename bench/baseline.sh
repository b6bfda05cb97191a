#!/usr/bin/env bash
# The benchmark's baseline: the original backup.sh's pipeline
# (/work/shared/seed/000_6548216d03309dfe.txt, "Backup Process Flow"),
# written as plainly as the original backup.sh's documentation describes it, with the same
# settings (environment variables) as directus-backup:
#
#   init      settings, required commands, job id, temp_<job-id>/
#   database  pg_dump (plain) > temp/db_backup.sql, size check
#   uploads   rsync -a --link-dest=<BACKUPS_DIR>/backup_latest/uploads (full
#             rsync -a without a previous backup)
#   compress  gzip -${BACKUP_GZIP_LEVEL} temp/db_backup.sql, ratio
#   finalize  backup_<date>_<timestamp>/, move dump and uploads, backup_latest
#   cleanup   old temp folders, incomplete backups, retention by
#             BACKUP_RETENTION_DAYS / BACKUP_RETENTION_COUNT, old error logs
#
# Differences from the original, all to make the comparison fair:
#   - pg_dump runs locally (BACKUP_DB_METHOD=local) with the connection in
#     PG* variables taken from DB_HOST/DB_PORT/DB_USER/DB_PASSWORD/DB_DATABASE,
#     and with the tool's flags (--format=plain --clean --if-exists
#     --no-password), so both dump the same SQL.
#   - Retention follows the README's rule (days, with count as a minimum;
#     count alone when days is 0), which is what the tool implements.
#
# On success it prints key=value lines on stdout for the harness:
# backup=, raw_bytes=, gz_bytes=. Logs go to stderr.
set -uo pipefail

BACKUPS_DIR=${BACKUPS_DIR:-./directus/data/backups}
BACKUP_RETENTION_DAYS=${BACKUP_RETENTION_DAYS:-7}
BACKUP_RETENTION_COUNT=${BACKUP_RETENTION_COUNT:-0}
BACKUP_GZIP_LEVEL=${BACKUP_GZIP_LEVEL:-9}
BACKUP_ERROR_DIR=${BACKUP_ERROR_DIR:-$BACKUPS_DIR/error_logs}
BACKUP_FORMATTED_DATE=${BACKUP_FORMATTED_DATE:-%Y-%m-%d_%H-%M-%S}
BACKUP_TIMESTAMP=${BACKUP_TIMESTAMP:-$(date +%s)}
BACKUP_ERROR_LOGS_RETENTION_DAYS=${BACKUP_ERROR_LOGS_RETENTION_DAYS:-30}
UPLOADS_DIR=${BACKUP_UPLOADS_DIR:-${STORAGE_LOCAL_ROOT:-./directus/uploads}}

case $BACKUP_FORMATTED_DATE in
  *%*) FORMATTED_DATE=$(date -d "@$BACKUP_TIMESTAMP" +"$BACKUP_FORMATTED_DATE") ;;
  *) FORMATTED_DATE=$BACKUP_FORMATTED_DATE ;;
esac

LOG_FILE=$(mktemp)
log() { printf '%s %s: %s\n' "$(date '+%Y-%m-%d %H:%M:%S')" "$1" "$2" | tee -a "$LOG_FILE" >&2; }
info() { log INFO "$*"; }

TEMP_DIR=
fail() {
  log ERROR "$*"
  local err_dir="$BACKUP_ERROR_DIR/error_${FORMATTED_DATE}_${JOB_ID:-unknown}"
  mkdir -p "$err_dir"
  env | sed -E 's/^([^=]*(PASSWORD|SECRET|KEY|TOKEN)[^=]*)=.*/\1=[REDACTED]/' > "$err_dir/environment.txt"
  cp "$LOG_FILE" "$err_dir/job.log"
  [ -n "$TEMP_DIR" ] && rm -rf "$TEMP_DIR"
  rm -f "$LOG_FILE"
  exit 1
}

# ---- init
for c in pg_dump rsync gzip find; do
  command -v "$c" >/dev/null || fail "required command $c not found"
done
if command -v uuidgen >/dev/null; then
  JOB_ID=job-$(uuidgen)
elif [ -r /proc/sys/kernel/random/uuid ]; then
  JOB_ID=job-$(cat /proc/sys/kernel/random/uuid)
else
  JOB_ID=job-$(date +%s%N | md5sum | cut -c1-32)
fi
mkdir -p "$BACKUPS_DIR" "$BACKUP_ERROR_DIR" || fail "cannot create $BACKUPS_DIR"
[ -d "$UPLOADS_DIR" ] || fail "uploads folder $UPLOADS_DIR not found"
BACKUP_NAME="backup_${FORMATTED_DATE}_${BACKUP_TIMESTAMP}"
FINAL_DIR="$BACKUPS_DIR/$BACKUP_NAME"
[ -e "$FINAL_DIR" ] && fail "$FINAL_DIR already exists"
TEMP_DIR="$BACKUPS_DIR/temp_$JOB_ID"
mkdir -p "$TEMP_DIR" || fail "cannot create $TEMP_DIR"
info "backup started: job $JOB_ID, $BACKUP_NAME"

# ---- database
info "dumping database ${DB_DATABASE:-}"
export PGDATABASE=${DB_DATABASE:?DB_DATABASE is required} PGPORT=${DB_PORT:-5432}
[ -n "${DB_HOST:-}" ] && export PGHOST=$DB_HOST
[ -n "${DB_USER:-}" ] && export PGUSER=$DB_USER
[ -n "${DB_PASSWORD:-}" ] && export PGPASSWORD=$DB_PASSWORD
pg_dump --format=plain --clean --if-exists --no-password > "$TEMP_DIR/db_backup.sql" \
  || fail "pg_dump failed"
[ -s "$TEMP_DIR/db_backup.sql" ] || fail "database dump is empty"
RAW_BYTES=$(stat -c %s "$TEMP_DIR/db_backup.sql")
info "database dumped: $RAW_BYTES bytes"

# ---- uploads
PREV="$BACKUPS_DIR/backup_latest"
if [ -d "$PREV/uploads" ]; then
  info "incremental uploads backup against $(readlink "$PREV")"
  rsync -a --link-dest="$(cd "$PREV/uploads" && pwd -P)" "$UPLOADS_DIR/" "$TEMP_DIR/uploads/" \
    || fail "rsync failed"
else
  info "full uploads backup"
  rsync -a "$UPLOADS_DIR/" "$TEMP_DIR/uploads/" || fail "rsync failed"
fi

# ---- compress
DUMP="$TEMP_DIR/db_backup.sql"
if command -v gzip >/dev/null; then
  if gzip "-$BACKUP_GZIP_LEVEL" "$DUMP"; then
    DUMP="$DUMP.gz"
    GZ_BYTES=$(stat -c %s "$DUMP")
    if command -v bc >/dev/null; then
      RATIO=$(echo "scale=2; $RAW_BYTES / $GZ_BYTES" | bc)
    else
      RATIO=$((RAW_BYTES / GZ_BYTES))
    fi
    info "dump compressed: $GZ_BYTES bytes (ratio $RATIO:1)"
  else
    log WARN "gzip failed; keeping the uncompressed dump"
  fi
fi

# ---- finalize
mkdir -p "$FINAL_DIR" || fail "cannot create $FINAL_DIR"
mv "$DUMP" "$FINAL_DIR/" || fail "cannot move the dump"
mv "$TEMP_DIR/uploads" "$FINAL_DIR/uploads" || fail "cannot move the uploads"
ln -sfn "$BACKUP_NAME" "$BACKUPS_DIR/backup_latest" || fail "cannot update backup_latest"
rm -rf "$TEMP_DIR"
TEMP_DIR=
info "backup complete: $FINAL_DIR"

# ---- cleanup
find "$BACKUPS_DIR" -mindepth 1 -maxdepth 1 -type d -name 'temp_*' -exec rm -rf {} +
# Incomplete backups: no dump at all.
while IFS= read -r -d '' d; do
  if [ ! -e "$d/db_backup.sql.gz" ] && [ ! -e "$d/db_backup.sql" ]; then
    info "removing incomplete backup $(basename "$d")"
    rm -rf "$d"
  fi
done < <(find "$BACKUPS_DIR" -mindepth 1 -maxdepth 1 -type d -name 'backup_*' -print0)
# Valid backups, oldest first, by the timestamp at the end of the name.
mapfile -t BACKUPS < <(find "$BACKUPS_DIR" -mindepth 1 -maxdepth 1 -type d -name 'backup_*_[0-9]*' -printf '%f\n' \
  | awk -F_ '{print $NF "\t" $0}' | sort -n | cut -f2)
COUNT=${#BACKUPS[@]}
NOW=$(date +%s)
KEEP_MIN=$BACKUP_RETENTION_COUNT
[ "$KEEP_MIN" -lt 1 ] && KEEP_MIN=1
REMOVED=0
for i in "${!BACKUPS[@]}"; do
  name=${BACKUPS[$i]}
  newer=$((COUNT - i - 1)) # backups newer than this one
  [ "$name" = "$BACKUP_NAME" ] && continue
  ts=${name##*_}
  if [ "$BACKUP_RETENTION_DAYS" -gt 0 ]; then
    cutoff=$((NOW - BACKUP_RETENTION_DAYS * 86400))
    if [ "$ts" -lt "$cutoff" ] && [ "$newer" -ge "$KEEP_MIN" ]; then
      info "removing $name (older than $BACKUP_RETENTION_DAYS days)"
      rm -rf "${BACKUPS_DIR:?}/$name"
      REMOVED=$((REMOVED + 1))
    fi
  elif [ "$BACKUP_RETENTION_COUNT" -gt 0 ] && [ "$newer" -ge "$BACKUP_RETENTION_COUNT" ]; then
    info "removing $name (more than $BACKUP_RETENTION_COUNT backups)"
    rm -rf "${BACKUPS_DIR:?}/$name"
    REMOVED=$((REMOVED + 1))
  fi
done
if [ "$BACKUP_ERROR_LOGS_RETENTION_DAYS" -gt 0 ] && [ -d "$BACKUP_ERROR_DIR" ]; then
  find "$BACKUP_ERROR_DIR" -mindepth 1 -maxdepth 1 -type d -name 'error_*' \
    -mtime "+$BACKUP_ERROR_LOGS_RETENTION_DAYS" -exec rm -rf {} +
fi
info "cleanup done: $((COUNT - REMOVED)) kept, $REMOVED removed"
rm -f "$LOG_FILE"

printf 'backup=%s\nraw_bytes=%s\ngz_bytes=%s\n' "$FINAL_DIR" "$RAW_BYTES" "${GZ_BYTES:-0}"
