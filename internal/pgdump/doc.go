// Package pgdump runs pg_dump, locally or inside a docker compose service,
// and streams its plain SQL output through the compressor (parallel gzip by
// default) straight into the backup file: no uncompressed copy ever touches
// the disk.
//
// The dump is made with --clean --if-exists so that the restore commands the
// original backup.sh documents (gunzip -c db_backup.sql.gz | psql ...) work both
// into a freshly created empty database and over the existing one. A dump is
// accepted only when pg_dump exits 0 and its output ends with pg_dump's
// completion line.
package pgdump
