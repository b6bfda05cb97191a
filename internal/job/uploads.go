package job

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/directus-backup/directus-backup/internal/humanize"
	"github.com/directus-backup/directus-backup/internal/manifest"
	"github.com/directus-backup/directus-backup/internal/regfile"
	"github.com/directus-backup/directus-backup/internal/repo"
	"github.com/directus-backup/directus-backup/internal/snapshot"
)

// syncMax is how many copied files and created folders finalize fsyncs one
// by one; above it one syncfs is cheaper. Below it, syncfs would also wait
// for every other writer on a shared disk.
const syncMax = 1000

// snapshotUploads copies the uploads folder into the temporary folder,
// hard-linking files unchanged since the previous backup, and writes the
// manifest's entry list beside it.
func (r *run) snapshotUploads(ctx context.Context) error {
	opts := snapshot.Options{
		Source:         r.cfg.UploadsDir,
		Dest:           repo.UploadsIn(r.in()),
		PreserveOwner:  os.Geteuid() == 0,
		Warn:           r.log.Warn,
		RecheckPercent: r.cfg.RecheckPercent,
		OnFile: func(n int64) {
			r.deps.Progress.Files.Add(1)
			r.deps.Progress.FilesBytes.Add(n)
		},
		OnWritten: func(rel string) {
			switch {
			case !r.writtenAll:
			case len(r.written) >= syncMax: // too many: finalize does one syncfs
				r.written, r.writtenAll = nil, false
			default:
				r.written = append(r.written, filepath.FromSlash(repo.UploadsRel(rel)))
			}
		},
	}
	r.writtenAll = true
	if r.hasPrev {
		prevUploads := r.prev.UploadsPath()
		if fi, err := os.Lstat(prevUploads); err == nil && fi.IsDir() { // a symlink is not the backup's folder
			opts.Previous = prevUploads
			opts.PreviousName = r.prev.Name
			r.rep.Previous = r.prev.Name
			if r.prev.Manifest != nil {
				opts.Run = r.prev.Manifest.Uploads.Run + 1
			}
			if f := r.previousList(); f != nil {
				defer f.Close()
				opts.PreviousList = f
			}
			opts.Damaged = r.knownDamage()
			r.log.Info("incremental uploads backup", "previous", r.prev.Name)
		} else {
			r.log.Warn("previous backup has no uploads folder; making a full copy", "previous", r.prev.Name)
		}
	} else {
		r.log.Info("no previous backup; making a full copy of the uploads")
	}
	r.run = opts.Run

	listPath := repo.ListIn(r.in())
	lf, err := os.OpenFile(listPath, createFlags, 0o600)
	if err != nil {
		return fmt.Errorf("create entry list: %w", r.named(err))
	}
	defer lf.Close()
	list := manifest.NewListWriter(lf)
	res, err := snapshot.Take(ctx, opts, list)
	r.rep.Uploads = res
	if err != nil {
		return fmt.Errorf("snapshot uploads %s: %w", r.cfg.UploadsDir, r.named(err))
	}
	if err := list.Close(); err != nil {
		return fmt.Errorf("write entry list: %w", err)
	}
	if err := lf.Close(); err != nil {
		return fmt.Errorf("write entry list: %w", err)
	}
	r.listSHA, r.listCount = list.SHA256(), list.Count()
	r.log.Info("uploads copied",
		"files", res.Files, "linked", res.Linked, "copied", res.Copied,
		"copied_bytes", humanize.Bytes(res.CopiedBytes), "total_bytes", humanize.Bytes(res.Bytes),
		"dirs", res.Dirs, "symlinks", res.Symlinks, "skipped", res.Skipped,
		"rechecked", res.Rechecked, "compared", res.Compared, "refreshed", res.Refreshed)
	return nil
}

// previousList opens the previous backup's entry list when its SHA-256 is
// the one its manifest records, positioned at its start; nil otherwise.
// Only a list that is vouched for may stand in for reading the linked
// files: a damaged or edited one would carry wrong hashes into the new
// backup, so without it every linked file is compared with the live one.
func (r *run) previousList() *os.File {
	m := r.prev.Manifest
	if m == nil {
		r.log.Warn("previous backup has no entry list (made by backup.sh); unchanged files are compared with the live ones", "previous", r.prev.Name)
		return nil
	}
	if !m.Uploads.Vouched {
		r.log.Info("previous backup was made by an earlier version, whose entry list may hold unchecked hashes; unchanged files are compared with the live ones this once",
			"previous", r.prev.Name)
		return nil
	}
	// A list named outside the backup falls back to the default name.
	p, _, _ := r.prev.ListPath()
	// regfile: a symlink or FIFO planted there is not read.
	f, err := regfile.Open(p)
	if err != nil {
		r.log.Warn("cannot read the previous entry list; unchanged files are compared with the live ones", "previous", r.prev.Name, "err", err)
		return nil
	}
	// The hash is taken from the same open file that is then read, so a
	// list swapped in between is not trusted by mistake.
	h := sha256.New()
	_, err = io.Copy(h, f)
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		f.Close()
		r.log.Warn("cannot read the previous entry list; unchanged files are compared with the live ones", "previous", r.prev.Name, "err", err)
		return nil
	}
	if got := hex.EncodeToString(h.Sum(nil)); m.Uploads.ListSHA256 == "" || got != m.Uploads.ListSHA256 {
		f.Close()
		r.log.Warn("previous entry list does not match the checksum in its manifest; unchanged files are compared with the live ones",
			"previous", r.prev.Name, "sha256", got, "manifest_sha256", m.Uploads.ListSHA256)
		return nil
	}
	return f
}

// knownDamage collects the damage lists that verify left in the backups,
// keyed by path. An inode recorded in any backup is damaged in all that
// link it. The backups are those init listed: the lock held since then
// keeps any from being added or removed.
func (r *run) knownDamage() map[string][]snapshot.Damaged {
	out := map[string][]snapshot.Damaged{}
	for _, b := range r.backups {
		if !b.Usable() {
			continue
		}
		list, err := repo.ReadDamage(b.Path)
		if err != nil {
			r.log.Warn("cannot read a damage list; files it names may be linked again", "backup", b.Name, "err", err)
		}
		for _, d := range list {
			out[d.Path] = append(out[d.Path], snapshot.Damaged{Ino: d.Ino, Size: d.Size,
				MTime:    unix.Timespec{Sec: d.MTime.Sec, Nsec: d.MTime.Nsec},
				HasAttrs: d.MTime != (repo.Timespec{}), Backup: b.Name})
		}
	}
	return out
}
