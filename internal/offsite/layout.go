package offsite

import (
	"regexp"
	"strings"
)

// Names of the objects of one backup, under backups/<backup>/.
const (
	metaManifest = "manifest.json"
	metaFiles    = "files.jsonl"
	metaChunks   = "chunks.jsonl"
	metaObjects  = "objects.jsonl"
	indexName    = "index.json"
	sealedSuffix = ".age"

	dataDir    = "data/"
	backupsDir = "backups/"
	locksDir   = "locks/"
)

// dataKey is the key of the object named name (a 64-hex seal.Name).
func dataKey(name string) string { return dataDir + name[:2] + "/" + name }

// nameOfDataKey returns the name in a data key, or "" when key is not one.
func nameOfDataKey(key string) string {
	rest, ok := strings.CutPrefix(key, dataDir)
	if !ok || len(rest) != 2+1+64 || rest[2] != '/' || rest[:2] != rest[3:5] || !isHex(rest[3:]) {
		return ""
	}
	return rest[3:]
}

func backupPrefix(backup string) string { return backupsDir + backup + "/" }

func indexKey(backup string) string { return backupPrefix(backup) + indexName }

// metaKey is the key of one of a backup's meta objects.
func metaKey(backup, meta string, sealed bool) string {
	k := backupPrefix(backup) + meta
	if sealed {
		k += sealedSuffix
	}
	return k
}

func lockKey(kind, id string) string { return locksDir + kind + "-" + id + ".json" }

// backupOfKey returns the backup a key under backups/ belongs to.
func backupOfKey(key string) string {
	rest, ok := strings.CutPrefix(key, backupsDir)
	if !ok {
		return ""
	}
	name, _, ok := strings.Cut(rest, "/")
	if !ok {
		return ""
	}
	return name
}

var hexRe = regexp.MustCompile(`^[0-9a-f]+$`)

func isHex(s string) bool { return hexRe.MatchString(s) }

// validBackupName keeps names that could climb out of backups/ or clash
// with the layout from ever becoming a key.
func validBackupName(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.ContainsAny(name, "/\\\x00\n\r") && len(name) <= 200
}
