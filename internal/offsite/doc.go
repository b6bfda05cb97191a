// Package offsite keeps copies of complete backups in S3-compatible object
// storage: push, list, verify, prune, and reading a copy back for restore.
//
// Layout under BACKUP_S3_PREFIX (every name here is defined in layout.go):
//
//	data/<2 hex>/<64 hex>              one object per distinct content: a
//	                                   file of any files folder or a piece
//	                                   of the dump, named by seal.Name of
//	                                   its SHA-256
//	backups/<backup>/manifest.json     the backup's own manifest files, as
//	backups/<backup>/files.jsonl       the local backup has them (".age"
//	backups/<backup>/chunks.jsonl      appended when sealed); files.jsonl
//	backups/<backup>/manifest.storage.<name>.jsonl   is uploads/'s entry list,
//	backups/<backup>/manifest.extensions.jsonl       the others keep their name
//	backups/<backup>/objects.jsonl     which object holds which content:
//	                                   the dump's pieces in order, the files
//	backups/<backup>/index.json        written last, never sealed: the list
//	                                   of objects the backup references, for
//	                                   prune and verify on the backup host
//	locks/<kind>-<id>.json             a push or prune in progress
//
// A backup is complete in the bucket when its index.json exists; the index
// is written only after everything it names is stored. With encryption on,
// every object but the index and the locks is sealed with age to public
// keys, and the index holds only object names (keyed hashes), sizes and
// counts: the backup host can push, list, check sizes and prune, but not
// read.
package offsite
