package main

import (
	"context"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/directus-backup/directus-backup/internal/config"
	"github.com/directus-backup/directus-backup/internal/job"
	"github.com/directus-backup/directus-backup/internal/offsite"
	"github.com/directus-backup/directus-backup/internal/restore"
)

// openOffsite opens the backup req names in the bucket (restore --offsite)
// and sets req.Offsite. Everything that can be refused is refused here,
// before anything is changed: a missing key (seal.ErrNoIdentity) or an
// unknown backup is a usage error, an unreachable bucket exit code Offsite.
// On a terminal it starts a display of the bytes downloaded, which the
// caller stops.
func (a *app) openOffsite(ctx context.Context, cfg *config.Config, req *restore.Request, asJSON bool) (*progressDisplay, error) {
	remote, err := offsite.New(cfg.Offsite, version, req.Log, true)
	if err != nil {
		return nil, err
	}
	oc, err := remote.Open(ctx, req.Backup)
	if err != nil {
		return nil, offsite.Code(fmt.Errorf("restore from %s: %w; nothing was changed", remote.Store.Where(), err))
	}
	progress := &job.Progress{}
	progress.Step.Store("restore " + oc.Index.Backup + " from the bucket, downloaded:")
	req.Offsite = &restore.Offsite{
		Backup: oc.Index.Backup, Manifest: oc.Manifest, FilesList: oc.FilesList, Lists: oc.Lists, Jobs: remote.Jobs, Where: remote.Store.Where(),
		Dump: func(ctx context.Context) io.ReadCloser {
			return countingReader{ReadCloser: oc.Dump(ctx), n: &progress.DumpBytes}
		},
		OpenFile: func(ctx context.Context, sum string) (io.ReadCloser, error) {
			rc, err := oc.OpenFile(ctx, sum)
			if err != nil {
				return nil, err
			}
			progress.Files.Add(1)
			return countingReader{ReadCloser: rc, n: &progress.FilesBytes}, nil
		},
	}
	if !a.showProgress() || asJSON {
		return nil, nil
	}
	d := newProgressDisplay(a.stderr, progress)
	req.Log = a.logger(cfg, d, nil)
	return d, nil
}

// countingReader adds what is read to n (download progress).
type countingReader struct {
	io.ReadCloser
	n *atomic.Int64
}

func (c countingReader) Read(p []byte) (int, error) {
	k, err := c.ReadCloser.Read(p)
	c.n.Add(int64(k))
	return k, err
}
