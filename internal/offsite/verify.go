package offsite

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/directus-backup/directus-backup/internal/offsite/seal"
	"github.com/directus-backup/directus-backup/internal/parallel"
)

// VerifyRequest says what to check.
type VerifyRequest struct {
	Backup   string // "" or "latest": the newest in the bucket; ignored with All
	All      bool
	ReadData bool // download, decrypt and hash every object (needs the identity when sealed)
}

// VerifyReport is what verify found.
type VerifyReport struct {
	Where    string         `json:"where"`
	ReadData bool           `json:"read_data"`
	Backups  []BackupVerify `json:"backups"`
	Problems int            `json:"problems"`
}

// BackupVerify is one backup's result.
type BackupVerify struct {
	Backup    string   `json:"backup"`
	OK        bool     `json:"ok"`
	Objects   int64    `json:"objects"`
	Bytes     int64    `json:"bytes"` // stored bytes checked
	ReadBytes int64    `json:"read_bytes"`
	Problems  []string `json:"problems"`
}

// Verify checks backups in the bucket: every object they reference exists
// with its recorded size; with ReadData, every object's plaintext has its
// recorded SHA-256, and the dump's pieces make up the dump's SHA-256.
func (r *Remote) Verify(ctx context.Context, req VerifyRequest) (VerifyReport, error) {
	rep := VerifyReport{Where: r.Store.Where(), ReadData: req.ReadData, Backups: []BackupVerify{}}
	l, err := r.list(ctx, true)
	if err != nil {
		return rep, err
	}
	var names []string
	switch {
	case req.All:
		names = l.Backups
	case req.Backup == "" || req.Backup == "latest":
		if len(l.Backups) > 0 {
			names = []string{l.Backups[len(l.Backups)-1]}
		}
	default:
		names = []string{req.Backup}
	}
	if len(names) == 0 {
		return rep, fmt.Errorf("%w: the bucket %s holds no complete backup", ErrNoBackup, r.Store.Where())
	}
	verified := map[string]bool{} // objects read and found good, across backups
	for _, name := range names {
		bv := BackupVerify{Backup: name, Problems: []string{}}
		r.verifyOne(ctx, l, name, req.ReadData, verified, &bv)
		if ctx.Err() != nil {
			return rep, ctx.Err()
		}
		bv.OK = len(bv.Problems) == 0
		rep.Problems += len(bv.Problems)
		rep.Backups = append(rep.Backups, bv)
	}
	return rep, nil
}

func (r *Remote) verifyOne(ctx context.Context, l *Listing, name string, readData bool, verified map[string]bool, bv *BackupVerify) {
	problem := func(format string, a ...any) { bv.Problems = append(bv.Problems, fmt.Sprintf(format, a...)) }
	if !validBackupName(name) {
		problem("%q is not a backup name", name)
		return
	}
	ix, err := r.readIndex(ctx, name)
	if err != nil {
		if errors.Is(err, errNotFound) {
			problem("not in the bucket (no index.json)")
		} else {
			problem("%v", err)
		}
		return
	}
	for _, o := range ix.Objects {
		bv.Objects++
		got, ok := l.Data[o.Name]
		switch {
		case !ok:
			problem("object %s is missing", o.Name)
		case got.Size != o.Size:
			problem("object %s is %d bytes, the index says %d", o.Name, got.Size, o.Size)
		default:
			bv.Bytes += o.Size
		}
	}
	for meta, ref := range ix.Meta {
		st, err := r.Store.Stat(ctx, ref.Name)
		switch {
		case errors.Is(err, errNotFound):
			problem("%s is missing", meta)
		case err != nil:
			problem("%s: %v", meta, err)
		case st.Size != ref.Size:
			problem("%s is %d bytes, the index says %d", meta, st.Size, ref.Size)
		}
	}
	if !readData || len(bv.Problems) > 0 {
		return
	}
	if ix.Encrypted && (r.Opener == nil || !r.Opener.CanOpen()) {
		problem("%v", seal.ErrNoIdentity)
		return
	}
	c, err := r.Open(ctx, name)
	if err != nil {
		problem("%v", err)
		return
	}
	// The dump, in order: its pieces must make up the dump's SHA-256.
	d := c.Dump(ctx)
	h := sha256.New()
	n, err := io.Copy(h, d)
	d.Close()
	bv.ReadBytes += n
	if err != nil {
		problem("dump: %v", err)
	} else if got := hex.EncodeToString(h.Sum(nil)); got != c.Manifest.Database.SHA256 {
		problem("dump: its pieces do not make up the dump (SHA-256 %s, manifest %s)", got, c.Manifest.Database.SHA256)
	}
	for _, l := range c.dump {
		verified[l.Name] = true
	}
	// Files: each content once, in parallel.
	var todo []objectLine
	for _, l := range c.files {
		if !verified[l.Name] {
			todo = append(todo, l)
		}
	}
	var mu sync.Mutex
	parallel.For(len(todo), r.jobs(), func(i int) {
		if ctx.Err() != nil {
			return
		}
		l := todo[i]
		rc, err := c.openObject(ctx, l)
		var n int64
		if err == nil {
			n, err = io.Copy(io.Discard, rc)
			rc.Close()
		}
		mu.Lock()
		defer mu.Unlock()
		bv.ReadBytes += n
		if err != nil {
			problem("file content %s (object %s): %v", l.SHA256, l.Name, err)
			return
		}
		verified[l.Name] = true
	})
}
