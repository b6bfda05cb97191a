package snapshot

import (
	"crypto/sha256"
	"io"

	"github.com/directus-backup/directus-backup/internal/manifest"
)

// isSHA256 reports whether s looks like a hex SHA-256, so a damaged
// previous list cannot put garbage into the new one.
func isSHA256(s string) bool {
	if len(s) != 2*sha256.Size {
		return false
	}
	for _, c := range []byte(s) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// prevList walks the previous backup's list in step with the new walk. Both
// are in manifest.ComparePaths order, so one pass suffices and only one
// entry is held at a time.
type prevList struct {
	r    *manifest.Reader
	warn func(msg string, args ...any)
	cur  manifest.Entry
	have bool // cur is read and not yet passed
	done bool // end of list, or unreadable
}

// find returns the previous entry for path, if any. Calls must come in
// ComparePaths order.
func (p *prevList) find(rel string) (manifest.Entry, bool) {
	for !p.done {
		if !p.have {
			e, err := p.r.Next()
			if err == io.EOF {
				p.done = true
				break
			}
			if err != nil {
				p.warn("previous file list unreadable, hashing unchanged files instead", "err", err)
				p.done = true
				break
			}
			p.cur, p.have = e, true
		}
		switch c := manifest.ComparePaths(p.cur.Path, rel); {
		case c < 0:
			p.have = false
		case c == 0:
			return p.cur, true
		default:
			return manifest.Entry{}, false
		}
	}
	return manifest.Entry{}, false
}
