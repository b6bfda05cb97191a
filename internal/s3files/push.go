package s3files

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"mime"
	"path"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/directus-backup/directus-backup/internal/manifest"
	"github.com/directus-backup/directus-backup/internal/offsite/s3store"
	"github.com/directus-backup/directus-backup/internal/parallel"
	"github.com/directus-backup/directus-backup/internal/regfile"
)

// PushOptions says what to upload.
type PushOptions struct {
	Source string    // the backup's folder of the location
	List   io.Reader // its entry list; the caller checked its checksum
	// Delete removes the objects under the prefix that the backup does not
	// hold, after every upload succeeded (like restore --delete).
	Delete  bool
	Workers int               // parallel uploads; 0 = DefaultWorkers
	OnFile  func(bytes int64) // after each object (progress); may be nil; called concurrently
}

// PushResult counts what Push did.
type PushResult struct {
	Objects       int64 // objects the backup holds (files and folder markers)
	Bytes         int64 // their total size
	Uploaded      int64
	UploadedBytes int64
	Skipped       int64 // already in the bucket with the same size and ETag: not uploaded
	Extra         int64 // objects under the prefix that the backup does not hold (deleted with Delete)
	Deleted       int64
}

// ErrDamaged matches a backup file whose bytes are not the ones its entry
// list records: it is not uploaded.
var ErrDamaged = errors.New("backup file damaged")

// upload is one object to put.
type upload struct {
	key   string // below the prefix
	entry manifest.Entry
}

// Push uploads the backup's files into loc's bucket under its prefix. It
// checks every entry and lists the bucket before it uploads anything, so
// that a bad list or wrong settings change nothing.
func Push(ctx context.Context, loc Location, opts PushOptions) (PushResult, error) {
	var res PushResult
	st, err := loc.open()
	if err != nil {
		return res, err
	}
	var ups []upload
	r := manifest.NewReader(opts.List)
	for {
		e, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return res, fmt.Errorf("read the entry list: %w", err)
		}
		if e.Path == "." {
			continue
		}
		if why := checkRel(e.Path); why != "" {
			return res, fmt.Errorf("the entry list names %q, which cannot be an object key (%s)", e.Path, why)
		}
		switch e.Type {
		case manifest.TypeFile:
			ups = append(ups, upload{key: e.Path, entry: e})
		case manifest.TypeDir:
			if e.ETag != "" { // it was a folder marker object
				ups = append(ups, upload{key: e.Path + "/", entry: e})
			}
		default:
			return res, fmt.Errorf("the entry list holds %s %q, which an S3 location cannot hold", e.Type, e.Path)
		}
	}
	have := map[string]s3store.Object{}
	for o, err := range st.List(ctx, "") {
		if err != nil {
			return res, err
		}
		have[o.Key] = o
	}

	workers := opts.Workers
	if workers <= 0 {
		workers = DefaultWorkers
	}
	var mu sync.Mutex // guards res
	err = parallel.Each(ctx, len(ups), workers, func(ctx context.Context, i int) error {
		u := ups[i]
		skipped, err := pushOne(ctx, st, opts.Source, u, have)
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		if skipped {
			res.Skipped++
		} else {
			res.Uploaded++
			res.UploadedBytes += u.entry.Size
		}
		if opts.OnFile != nil {
			opts.OnFile(u.entry.Size)
		}
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("upload to %s: %w", st.Where(), err)
	}
	for _, u := range ups {
		res.Objects++
		res.Bytes += u.entry.Size
		delete(have, u.key)
	}
	delete(have, "") // the prefix's own marker
	res.Extra = int64(len(have))
	if !opts.Delete {
		return res, nil
	}
	var extra []string
	for k := range have {
		extra = append(extra, k)
	}
	err = parallel.Each(ctx, len(extra), workers, func(ctx context.Context, i int) error {
		if err := st.Hide(ctx, extra[i]); err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		res.Deleted++
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("delete from %s: %w", st.Where(), err)
	}
	return res, nil
}

// pushOne uploads one object unless the bucket has it already; it reports
// whether it skipped it.
func pushOne(ctx context.Context, st *s3store.Store, src string, u upload, have map[string]s3store.Object) (bool, error) {
	cur, there := have[u.key]
	if u.entry.Type == manifest.TypeDir {
		if there {
			return true, nil
		}
		return false, st.Put(ctx, u.key, eofReader{}, 0, s3store.PutOptions{ContentType: "application/x-directory"})
	}
	// Same size and the recorded ETag: the bucket holds these bytes, as
	// far as S3 can tell without reading them back.
	if there && cur.Size == u.entry.Size && cur.ETag != "" && cur.ETag == u.entry.ETag {
		return true, nil
	}
	p := filepath.Join(src, filepath.FromSlash(u.entry.Path))
	f, err := regfile.Open(p)
	if err != nil {
		return false, err
	}
	defer f.Close()
	// The file is read whole before its upload: damaged bytes must never
	// replace an object, and the ETag it would get tells whether the
	// bucket has it already (uploaded by us last time, in other parts).
	sh := sha256.New()
	eh := newETagHash(u.entry.Size)
	n, err := io.CopyBuffer(io.MultiWriter(sh, eh), ctxReader{ctx, f}, make([]byte, 256<<10))
	if err != nil {
		return false, fmt.Errorf("read %s: %w", p, err)
	}
	if got := hex.EncodeToString(sh.Sum(nil)); n != u.entry.Size || got != u.entry.SHA256 {
		return false, fmt.Errorf("%s: %w (%d bytes, SHA-256 %s; the entry list says %d bytes, %s): run verify",
			p, ErrDamaged, n, got, u.entry.Size, u.entry.SHA256)
	}
	if there && cur.Size == n && cur.ETag == eh.ETag() {
		return true, nil
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return false, err
	}
	ct := mime.TypeByExtension(path.Ext(u.key))
	return false, st.Put(ctx, u.key, ctxReader{ctx, f}, n, s3store.PutOptions{ContentType: ct})
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// etagHash computes the ETag S3 gives an unencrypted object that Put
// uploads: the MD5 of the bytes, or, above one part, the MD5 of the parts'
// MD5s followed by "-" and the number of parts.
type etagHash struct {
	part  int64 // part size
	multi bool
	h     hash.Hash // of the whole (single part) or of the current part
	n     int64     // bytes in the current part
	sums  []byte
	parts int
}

func newETagHash(size int64) *etagHash {
	part := int64(s3store.PartSize(size, 0))
	return &etagHash{part: part, multi: size > part, h: md5.New()}
}

func (e *etagHash) Write(p []byte) (int, error) {
	total := len(p)
	for len(p) > 0 {
		chunk := p
		if e.multi && int64(len(chunk)) > e.part-e.n {
			chunk = chunk[:e.part-e.n]
		}
		e.h.Write(chunk)
		e.n += int64(len(chunk))
		p = p[len(chunk):]
		if e.multi && e.n == e.part {
			e.endPart()
		}
	}
	return total, nil
}

func (e *etagHash) endPart() {
	e.sums = e.h.Sum(e.sums)
	e.parts++
	e.h.Reset()
	e.n = 0
}

// ETag returns the ETag; call it after the last Write.
func (e *etagHash) ETag() string {
	if !e.multi {
		return hex.EncodeToString(e.h.Sum(nil))
	}
	if e.n > 0 {
		e.endPart()
	}
	s := md5.Sum(e.sums)
	return hex.EncodeToString(s[:]) + "-" + strconv.Itoa(e.parts)
}
