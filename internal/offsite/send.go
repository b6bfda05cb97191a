package offsite

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/directus-backup/directus-backup/internal/offsite/s3store"
	"github.com/directus-backup/directus-backup/internal/regfile"
)

// upload is one object to send.
type upload struct {
	name string
	sum  string
	size int64  // plaintext
	data []byte // the plaintext, or nil: read path
	path string
	what string // for messages
	kind string
	key  string // meta objects: the key; data objects: ""
}

// smallObject is the size up to which an object is sealed in memory.
const smallObject = 8 << 20

// send seals and stores one object, checking its bytes on the way, and
// returns its stored size.
func (r *Remote) send(ctx context.Context, u upload, retain time.Time) (int64, error) {
	key := u.key
	if key == "" {
		key = dataKey(u.name)
	}
	stored, err := r.Sealer.SealedSize(u.size)
	if err != nil {
		return 0, err
	}
	var src io.Reader
	if u.data != nil {
		src = bytes.NewReader(u.data)
	} else {
		f, err := regfile.Open(u.path)
		if err != nil {
			return 0, fmt.Errorf("%s: %w (the local backup is damaged: run verify)", u.what, err)
		}
		defer f.Close()
		src = f
	}
	src = newCheckedReader(src, u.size, u.sum, u.what)
	opts := s3store.PutOptions{RetainUntil: retain}
	if !r.Sealer.Encrypted() {
		return stored, r.Store.Put(ctx, key, src, stored, opts)
	}
	if u.size <= smallObject {
		var buf bytes.Buffer
		buf.Grow(int(stored))
		w, err := r.Sealer.Seal(&buf)
		if err != nil {
			return 0, err
		}
		if _, err := io.Copy(w, src); err != nil {
			return 0, err
		}
		if err := w.Close(); err != nil {
			return 0, err
		}
		if int64(buf.Len()) != stored {
			return 0, fmt.Errorf("sealed %s is %d bytes, expected %d", u.what, buf.Len(), stored)
		}
		return stored, r.Store.Put(ctx, key, &buf, stored, opts)
	}
	// Large: seal on the fly. A bad source byte fails the copy before the
	// sealer writes its last chunk, so the upload comes up short and fails.
	pr, pw := io.Pipe()
	go func() {
		w, err := r.Sealer.Seal(pw)
		if err == nil {
			if _, err = io.Copy(w, src); err == nil {
				err = w.Close()
			}
		}
		pw.CloseWithError(err)
	}()
	err = r.Store.Put(ctx, key, pr, stored, opts)
	pr.CloseWithError(errors.New("upload ended"))
	return stored, err
}
