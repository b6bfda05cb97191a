package restore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/directus-backup/directus-backup/internal/exitcode"
	"github.com/directus-backup/directus-backup/internal/regfile"
	"github.com/directus-backup/directus-backup/internal/repo"
	"github.com/directus-backup/directus-backup/internal/s3files"
)

// S3Report is an s3 storage location restored into a bucket.
type S3Report struct {
	Target        string  `json:"target"` // s3://bucket/prefix
	Endpoint      string  `json:"endpoint,omitempty"`
	Objects       int64   `json:"objects"`
	Bytes         int64   `json:"bytes"`
	Uploaded      int64   `json:"uploaded"`
	UploadedBytes int64   `json:"uploaded_bytes"`
	Skipped       int64   `json:"skipped"` // already in the bucket with the same size and ETag
	Kept          int64   `json:"kept"`    // objects under the prefix not in the backup, left (no --delete)
	Deleted       int64   `json:"deleted"` // objects under the prefix not in the backup, deleted (--delete)
	Seconds       float64 `json:"seconds"`
}

// s3Target returns where the storage location name of b goes when it was
// copied from a bucket and no --target-dir makes it a folder: the bucket
// of the settings' s3 location of that name. ok is false for a location
// restored as a folder.
func s3Target(req Request, b repo.Backup, name string) (*s3files.Location, bool, error) {
	l, found := b.Manifest.Location(name)
	if !found || l.Driver != "s3" || req.TargetDir != "" {
		return nil, false, nil
	}
	loc, ok := req.LocationBuckets[strings.ToLower(name)]
	if !ok {
		up := strings.ToUpper(name)
		return nil, false, refuse("the storage location %q of %s was copied from the bucket %s, but STORAGE_LOCATIONS has no s3 location %q: "+
			"set STORAGE_%s_DRIVER=s3 and its STORAGE_%s_KEY, _SECRET, _BUCKET and _ENDPOINT to restore into a bucket, or give --target-dir to restore its files into a folder",
			name, b.Name, l.Bucket, name, up, up)
	}
	return &loc, true, nil
}

// redirectS3 applies --to-bucket and --to-prefix, which name one bucket:
// refused unless exactly one s3 location is restored.
func redirectS3(req Request, ts []target) error {
	if req.ToBucket == "" && req.ToPrefix == "" {
		return nil
	}
	var s3 []*target
	for i := range ts {
		if ts[i].s3 != nil {
			s3 = append(s3, &ts[i])
		}
	}
	if len(s3) != 1 {
		return refuse("--to-bucket and --to-prefix redirect one s3 storage location, but this restore writes %d (%s): choose one with --location",
			len(s3), strings.Join(names(ts), ", "))
	}
	loc := *s3[0].s3
	if req.ToBucket != "" {
		loc.Bucket = req.ToBucket
	}
	if req.ToPrefix != "" {
		loc.Root = req.ToPrefix
	}
	s3[0].s3 = &loc
	return nil
}

// restoreS3 uploads an s3 location's files into its bucket (s3files.Push)
// after checking its entry list against the manifest; each file's SHA-256
// is checked before its upload.
//
// From an offsite copy (off set), the files are first restored into a
// temporary folder (TMPDIR; as much space as the location's files), each
// checked as it is downloaded, and pushed from there: s3files.Push reads a
// folder, and reads each file twice (its ETag, then the upload).
func restoreS3(ctx context.Context, req Request, t target, off *Offsite, log *slog.Logger) (*S3Report, error) {
	start := time.Now()
	endpoint, bucket, prefix := t.s3.Where()
	rep := &S3Report{Target: "s3://" + bucket + "/" + prefix, Endpoint: endpoint}
	fail := func(err error) (*S3Report, error) {
		return nil, exitcode.With(exitcode.Restore, fmt.Errorf("restore %s into %s failed: %w", t.view.FilesFolder(), rep.Target, err))
	}
	p, _, err := t.view.ListPath()
	if err != nil {
		return fail(err)
	}
	src := t.view.UploadsPath()
	var list []byte
	if off != nil {
		tmp, err := os.MkdirTemp("", "directus-backup-restore-s3-")
		if err != nil {
			return fail(err)
		}
		defer os.RemoveAll(tmp)
		src = filepath.Join(tmp, "files")
		ft := t
		ft.s3, ft.dir = nil, src
		quiet := req
		quiet.Delete, quiet.Checksum = false, false
		if _, err := restoreArea(ctx, quiet, ft, off, log); err != nil {
			return fail(err)
		}
		p, list = "the offsite copy's entry list", off.Lists[t.view.FilesFolder()]
	} else if list, err = regfile.ReadFile(p); err != nil {
		return fail(fmt.Errorf("read its entry list: %w", err))
	}
	sum := sha256.Sum256(list)
	if want := t.view.Manifest.Uploads.ListSHA256; want == "" || hex.EncodeToString(sum[:]) != want {
		return fail(fmt.Errorf("%w: the entry list %s does not match the checksum in the manifest: run verify", ErrChecksum, p))
	}
	log.Info("restoring "+t.view.FilesFolder()+" into the bucket", "target", rep.Target, "endpoint", endpoint, "delete", req.Delete)
	res, err := s3files.Push(ctx, *t.s3, s3files.PushOptions{Source: src, List: bytes.NewReader(list), Delete: req.Delete})
	if err != nil {
		if errors.Is(err, s3files.ErrDamaged) {
			err = fmt.Errorf("%w (objects uploaded before it stay)", err)
		}
		return fail(err)
	}
	rep.Objects, rep.Bytes, rep.Uploaded, rep.UploadedBytes = res.Objects, res.Bytes, res.Uploaded, res.UploadedBytes
	rep.Skipped, rep.Deleted = res.Skipped, res.Deleted
	if !req.Delete {
		rep.Kept = res.Extra
	}
	rep.Seconds = time.Since(start).Seconds()
	log.Info(t.view.FilesFolder()+" restored into the bucket", "target", rep.Target, "uploaded", res.Uploaded,
		"skipped", res.Skipped, "deleted", res.Deleted)
	return rep, nil
}
