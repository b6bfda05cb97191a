package verify

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"io/fs"

	"github.com/directus-backup/directus-backup/internal/manifest"
	"github.com/directus-backup/directus-backup/internal/regfile"
)

// file compares a regular file's size and, when the size matches, its
// SHA-256 with the entry.
func (w *walk) file(rel, abs string, fi fs.FileInfo, e manifest.Entry) error {
	w.res.Files++
	if fi.Size() != e.Size {
		// Reading it would only confirm the difference.
		w.res.add(KindSize, w.relPath(rel), fmt.Sprintf("%d bytes, manifest says %d", fi.Size(), e.Size))
		return nil
	}
	// A file swapped for a symlink, FIFO or device since the Lstat is
	// neither followed nor read: a FIFO with a writer would make the read
	// wait forever, deaf to ctx.
	f, err := regfile.Open(abs)
	if err != nil {
		w.res.add(KindUnreadable, w.relPath(rel), err.Error())
		return nil
	}
	defer f.Close()
	h := sha256.New()
	n, err := w.hash(rel, f, h)
	if err != nil {
		if w.ctx.Err() != nil {
			return err
		}
		w.res.add(KindUnreadable, w.relPath(rel), err.Error())
		return nil
	}
	sum := hex.EncodeToString(h.Sum(nil))
	switch {
	case n != e.Size:
		w.res.add(KindSize, w.relPath(rel), fmt.Sprintf("%d bytes read, manifest says %d", n, e.Size))
	case sum != e.SHA256:
		w.res.add(KindContent, w.relPath(rel), fmt.Sprintf("SHA-256 %s, manifest says %s: the file changed since the backup (bit rot or tampering)", sum, e.SHA256))
	}
	return nil
}

// hash reads r to its end into h, checking ctx before every read.
func (w *walk) hash(rel string, r io.Reader, h hash.Hash) (int64, error) {
	var n int64
	for {
		if err := w.ctx.Err(); err != nil {
			return n, fmt.Errorf("uploads stopped at %s: %w", rel, err)
		}
		k, err := r.Read(w.buf)
		if k > 0 {
			h.Write(w.buf[:k])
			n += int64(k)
			w.c.read(k)
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// entryType is the list's type for a file mode; "" for sockets, FIFOs and
// devices, which the backup never holds.
func entryType(m fs.FileMode) string {
	switch m.Type() {
	case 0:
		return manifest.TypeFile
	case fs.ModeDir:
		return manifest.TypeDir
	case fs.ModeSymlink:
		return manifest.TypeSymlink
	}
	return ""
}

func typeName(m fs.FileMode) string {
	if t := entryType(m); t != "" {
		if t == manifest.TypeDir {
			return "folder"
		}
		return t
	}
	return "special file (" + m.Type().String() + ")"
}
