package snapshot

import (
	"io"

	"github.com/directus-backup/directus-backup/internal/manifest"
)

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
