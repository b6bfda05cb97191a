package job

import (
	"context"

	"github.com/directus-backup/directus-backup/internal/humanize"
	"github.com/directus-backup/directus-backup/internal/manifest"
	"github.com/directus-backup/directus-backup/internal/s3files"
	"github.com/directus-backup/directus-backup/internal/snapshot"
)

// pull copies an s3 storage location into the backup (s3files.Pull), with
// the previous backup's copy and entry list that snapshotArea found, and
// gives its figures as a snapshot's: downloaded objects count as copied.
func (r *run) pull(ctx context.Context, a area, opts snapshot.Options, list *manifest.ListWriter) (snapshot.Result, error) {
	po := s3files.PullOptions{Dest: opts.Dest, PreviousName: opts.PreviousName, Warn: r.log.Warn,
		OnFile: opts.OnFile}
	if opts.PreviousList != nil { // linked only against a vouched list
		po.Previous, po.PreviousList = opts.Previous, opts.PreviousList
	}
	res, err := s3files.Pull(ctx, a.s3, po, list)
	if res.Vanished > 0 {
		r.log.Warn("objects deleted while the backup ran were left out", "location", a.name, "objects", res.Vanished)
	}
	if err == nil {
		r.log.Info("objects of "+a.source+" copied", "objects", res.Objects, "downloaded", res.Downloaded,
			"downloaded_bytes", humanize.Bytes(res.DownloadedBytes), "linked", res.Linked)
	}
	return snapshot.Result{Files: res.Objects, Dirs: res.Dirs, Bytes: res.Bytes, Linked: res.Linked,
		Copied: res.Downloaded, CopiedBytes: res.DownloadedBytes}, err
}

// s3Source names an s3 location's objects (no credentials) for messages
// and the manifest's source.
func s3Source(l s3files.Location) string {
	_, bucket, prefix := l.Where()
	return "s3://" + bucket + "/" + prefix
}
