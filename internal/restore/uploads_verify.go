package restore

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"strings"

	"github.com/directus-backup/directus-backup/internal/manifest"
	"github.com/directus-backup/directus-backup/internal/regfile"
)

// uploadsVerifier compares what the restore makes, item by item in walk
// order, with the backup's entry list, streaming it (both are in
// manifest.ComparePaths order). Every field must match: the contents
// through the SHA-256s of copied files, and the attributes too, since the
// backup's files are hard links shared by several backups and a difference
// means someone changed them.
type uploadsVerifier struct {
	u        *uploadsRun
	name     string // the entry list's file name
	f        *os.File
	listHash hash.Hash
	r        *manifest.Reader
	cur      manifest.Entry
	have     bool // cur is read and not yet matched
	eof      bool
	seen     int

	problems []string
	n        int64
}

func (u *uploadsRun) newVerifier() (*uploadsVerifier, error) {
	b := u.opts.Backup
	u.ownerUnchecked = 0 // counted again by each pass
	if o := u.opts.Offsite; o != nil {
		v := &uploadsVerifier{u: u, name: "files.jsonl", listHash: sha256.New()}
		v.r = manifest.NewReader(io.TeeReader(bytes.NewReader(o.List), v.listHash))
		return v, nil
	}
	p, name, err := b.ListPath()
	if err != nil {
		return nil, fmt.Errorf("%w: manifest of backup %s %v", ErrChecksum, b.Name, err)
	}
	f, err := regfile.Open(p) // a FIFO or symlink in its place is refused, not waited on
	if err != nil {
		return nil, fmt.Errorf("open the entry list of backup %s (needed to verify the uploads): %w", b.Name, err)
	}
	v := &uploadsVerifier{u: u, name: name, f: f, listHash: sha256.New()}
	v.r = manifest.NewReader(io.TeeReader(f, v.listHash))
	return v, nil
}

func (v *uploadsVerifier) close() {
	if v.f != nil {
		v.f.Close()
	}
}

func (v *uploadsVerifier) problem(p, what string) {
	v.n++
	if len(v.problems) < uploadsMaxProblems {
		v.problems = append(v.problems, fmt.Sprintf("%q %s", p, what))
	}
}

// next makes cur the next recorded entry, or sets eof.
func (v *uploadsVerifier) next() error {
	if v.have || v.eof {
		return nil
	}
	e, err := v.r.Next()
	if err == io.EOF {
		v.eof = true
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w: entry list of backup %s is damaged: %v", ErrChecksum, v.u.opts.Backup.Name, err)
	}
	v.cur, v.have = e, true
	return nil
}

// add checks one item the restore makes. hashed says whether g.SHA256 is
// of what was copied; a file linked from the live folder was not read, so
// only its attributes are checked.
func (v *uploadsVerifier) add(g manifest.Entry, hashed bool) error {
	if v.seen++; v.seen%4096 == 0 {
		if err := v.u.checkCtx(g.Path); err != nil {
			return err
		}
	}
	for {
		if err := v.next(); err != nil {
			return err
		}
		if v.eof || manifest.ComparePaths(g.Path, v.cur.Path) < 0 {
			v.problem(g.Path, "is in the backup but not in its entry list")
			return nil
		}
		if manifest.ComparePaths(g.Path, v.cur.Path) > 0 {
			v.problem(v.cur.Path, "is in the entry list but missing from the backup")
			v.have = false
			continue
		}
		if !hashed && g.Type == manifest.TypeFile {
			g.SHA256 = v.cur.SHA256
		}
		if d := v.u.entryDiff(g, v.cur); d != "" {
			v.problem(g.Path, d)
		}
		v.have = false
		return nil
	}
}

// expect returns the SHA-256 the list records for the file p, when p is
// the list's next entry (walk and list share one order); ok is false
// otherwise, and add then reports the difference.
func (v *uploadsVerifier) expect(p string) (sum string, ok bool) {
	if err := v.next(); err != nil || !v.have || v.cur.Path != p || v.cur.Type != manifest.TypeFile {
		return "", false
	}
	return v.cur.SHA256, true
}

// finish reads the rest of the list, checks the list's own SHA-256 and
// returns an ErrChecksum error naming the differences, if any.
func (v *uploadsVerifier) finish() error {
	for {
		if err := v.next(); err != nil {
			return err
		}
		if v.eof {
			break
		}
		v.problem(v.cur.Path, "is in the entry list but missing from the backup")
		v.have = false
	}
	b := v.u.opts.Backup
	if sum := hex.EncodeToString(v.listHash.Sum(nil)); b.Manifest.Uploads.ListSHA256 != "" && sum != b.Manifest.Uploads.ListSHA256 {
		v.problem(v.name, "has a SHA-256 other than the one manifest.json records")
	}
	if v.n > 0 {
		return fmt.Errorf("%w: the uploads of backup %s do not match its entry list (%d differences; first: %s); nothing was changed",
			ErrChecksum, b.Name, v.n, strings.Join(v.problems, "; "))
	}
	if v.u.ownerUnchecked > 0 {
		v.u.warn("some items of the backup have the backup's own owner instead of the one the entry list records "+
			"(a backup made without root); their owners were not checked and they are restored with the backup's owner",
			"backup", b.Name, "items", v.u.ownerUnchecked)
	}
	return nil
}

// entryDiff describes how the restored entry g differs from the recorded
// entry w, or returns "".
func (u *uploadsRun) entryDiff(g, w manifest.Entry) string {
	if g.Type != w.Type {
		return fmt.Sprintf("is a %s, the entry list says %s", g.Type, w.Type)
	}
	var d []string
	if g.Size != w.Size {
		d = append(d, fmt.Sprintf("size %d, recorded %d", g.Size, w.Size))
	}
	if g.SHA256 != w.SHA256 {
		d = append(d, fmt.Sprintf("content differs (SHA-256 %.12s…, recorded %.12s…)", g.SHA256, w.SHA256))
	}
	if g.Target != w.Target {
		d = append(d, fmt.Sprintf("link target %q, recorded %q", g.Target, w.Target))
	}
	if g.Mode != w.Mode {
		d = append(d, fmt.Sprintf("mode %s, recorded %s", g.Mode, w.Mode))
	}
	if g.MTime != w.MTime {
		d = append(d, fmt.Sprintf("mtime %s, recorded %s", g.MTime, w.MTime))
	}
	// A backup made without root records the source's owner but its copies
	// belong to the user who made it (who also owns the backup folder).
	lenient := false
	if g.UID != w.UID {
		if g.UID == u.backupUID {
			lenient = true
		} else {
			d = append(d, fmt.Sprintf("uid %d, recorded %d", g.UID, w.UID))
		}
	}
	if g.GID != w.GID {
		if g.GID == u.backupGID {
			lenient = true
		} else {
			d = append(d, fmt.Sprintf("gid %d, recorded %d", g.GID, w.GID))
		}
	}
	if len(d) == 0 && lenient {
		u.ownerUnchecked++
	}
	return strings.Join(d, ", ")
}
