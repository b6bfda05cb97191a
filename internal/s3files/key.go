package s3files

import (
	"fmt"
	"strings"
)

// maxKeysShown is how many bad keys an error names; the error holds all.
const maxKeysShown = 10

// BadKey is an object whose key cannot be a path in the backup.
type BadKey struct {
	Key    string // below the location's root
	Reason string
}

// BadKeysError fails a Pull whose bucket holds objects that cannot be
// files in the backup; Keys lists every one.
type BadKeysError struct {
	Where string
	Keys  []BadKey
}

func (e *BadKeysError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d objects in %s cannot be files in a backup, so none was copied:", len(e.Keys), e.Where)
	for i, k := range e.Keys {
		if i == maxKeysShown {
			fmt.Fprintf(&b, " and %d more", len(e.Keys)-i)
			break
		}
		fmt.Fprintf(&b, " %q (%s);", k.Key, k.Reason)
	}
	b.WriteString(" rename or remove them (Directus never writes such keys)")
	return b.String()
}

// maxSegment is the longest file name Linux file systems take (NAME_MAX).
const maxSegment = 255

// checkRel says why rel (slash-separated, below the root) cannot be a
// relative path in the backup, or "" when it can.
func checkRel(rel string) string {
	if rel == "" {
		return "empty name"
	}
	if strings.IndexByte(rel, 0) >= 0 {
		return "NUL byte"
	}
	for seg := range strings.SplitSeq(rel, "/") {
		switch {
		case seg == "":
			return "empty path segment"
		case seg == "." || seg == "..":
			return "segment " + seg
		case len(seg) > maxSegment:
			return fmt.Sprintf("a segment longer than %d bytes", maxSegment)
		}
	}
	return ""
}
