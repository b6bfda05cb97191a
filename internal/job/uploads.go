package job

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/directus-backup/directus-backup/internal/config"
	"github.com/directus-backup/directus-backup/internal/humanize"
	"github.com/directus-backup/directus-backup/internal/manifest"
	"github.com/directus-backup/directus-backup/internal/regfile"
	"github.com/directus-backup/directus-backup/internal/repo"
	"github.com/directus-backup/directus-backup/internal/s3files"
	"github.com/directus-backup/directus-backup/internal/snapshot"
)

// syncMax is how many copied files and created folders finalize fsyncs one
// by one; above it one syncfs is cheaper. Below it, syncfs would also wait
// for every other writer on a shared disk.
const syncMax = 1000

// area is one folder a run copies into the backup: the default storage
// location (uploads/), another local location or the extensions folder.
type area struct {
	name      string // location name, or repo.ExtensionsName
	driver    string
	source    string // the live folder
	folder    string // inside the backup, slash-separated
	list      string // entry list's file name
	uploads   bool   // the default location: uploads/, its run number, damage lists
	extension bool
	s3        s3files.Location // driver s3: the bucket
}

// areaResult is what snapshotting one area gave.
type areaResult struct {
	area
	res      snapshot.Result
	previous string
	run      int64
	listSHA  string
	count    int64
}

// snapshotFiles copies every area of the backup, one after the other:
// the default location into uploads/ (as before), then the other local
// locations, then the extensions folder.
func (r *run) snapshotFiles(ctx context.Context) error {
	r.writtenAll = true
	for _, a := range r.areas() {
		if err := r.snapshotOne(ctx, a); err != nil {
			return err
		}
	}
	return nil
}

// snapshotUploads copies only the default location into uploads/.
func (r *run) snapshotUploads(ctx context.Context) error {
	r.writtenAll = true
	def, _ := r.cfg.Default()
	return r.snapshotOne(ctx, area{name: def.Name, driver: config.DriverLocal, source: r.cfg.UploadsDir,
		folder: repo.BackupUploadsName, list: manifest.FilesListName, uploads: true})
}

// snapshotOne copies one area and records what it gave.
func (r *run) snapshotOne(ctx context.Context, a area) error {
	ar, err := r.snapshotArea(ctx, a)
	if a.uploads {
		r.rep.Uploads, r.run, r.listSHA, r.listCount = ar.res, ar.run, ar.listSHA, ar.count
		r.rep.Previous = ar.previous
	} else if err == nil {
		r.extra = append(r.extra, ar)
	}
	return err
}

// areas lists what this run copies.
func (r *run) areas() []area {
	cfg := r.cfg
	if cfg.NoFiles {
		return nil
	}
	var out []area
	def, hasDef := cfg.Default()
	for _, l := range cfg.Locations() {
		if hasDef && l.Name == def.Name {
			out = append(out, area{name: l.Name, driver: l.Driver, source: cfg.UploadsDir, folder: repo.BackupUploadsName,
				list: manifest.FilesListName, uploads: true})
		} else {
			a := area{name: l.Name, driver: l.Driver, source: l.Root, folder: repo.StorageRel(l.Name),
				list: repo.StorageListName(l.Name)}
			if l.Driver == config.DriverS3 {
				a.s3 = s3files.For(l)
				a.source = s3Source(a.s3)
			}
			out = append(out, a)
		}
	}
	if cfg.ExtensionsDir == "" {
		return out // a Config not made by Load
	}
	if fi, err := os.Stat(cfg.ExtensionsDir); err == nil && fi.IsDir() {
		out = append(out, area{name: repo.ExtensionsName, driver: config.DriverLocal, source: cfg.ExtensionsDir,
			folder: repo.ExtensionsName, list: repo.ExtensionsListName, extension: true})
	} else {
		r.log.Info("no extensions folder; none backed up", "extensions_path", cfg.ExtensionsDir)
	}
	return out
}

// snapshotArea copies one area into the temporary folder, hard-linking
// files unchanged since the previous backup's copy of the same area, and
// writes its entry list beside it.
func (r *run) snapshotArea(ctx context.Context, a area) (areaResult, error) {
	ar := areaResult{area: a}
	dest := filepath.Join(r.in(), filepath.FromSlash(a.folder))
	if parent := path.Dir(a.folder); parent != "." {
		// storage/: made here, and synced by finalize like the rest.
		if err := os.Mkdir(filepath.Join(r.in(), filepath.FromSlash(parent)), 0o700); err != nil && !os.IsExist(err) {
			return ar, fmt.Errorf("create %s: %w", parent, r.named(err))
		} else if err == nil {
			r.wrote(parent)
		}
	}
	opts := snapshot.Options{
		Source:         a.source,
		Dest:           dest,
		PreserveOwner:  os.Geteuid() == 0,
		Warn:           r.log.Warn,
		RecheckPercent: r.cfg.RecheckPercent,
		OnFile: func(n int64) {
			r.deps.Progress.Files.Add(1)
			r.deps.Progress.FilesBytes.Add(n)
		},
		OnWritten: func(rel string) { r.wrote(path.Join(a.folder, rel)) },
	}
	what := "the " + a.name + " storage location"
	switch {
	case a.uploads:
		what = "the uploads"
	case a.extension:
		what = "the extensions"
	}
	var prev repo.Backup
	hasPrev := false
	if r.hasPrev {
		prev, hasPrev = r.prev, true
		if !a.uploads {
			var err error
			prev, err = r.prev.Area(a.name, a.extension)
			hasPrev = err == nil
		}
	}
	if hasPrev {
		prevDir := prev.UploadsPath()
		if fi, err := os.Lstat(prevDir); err == nil && fi.IsDir() { // a symlink is not the backup's folder
			opts.Previous = prevDir
			opts.PreviousName = prev.Name
			ar.previous = prev.Name
			if prev.Manifest != nil {
				opts.Run = prev.Manifest.Uploads.Run + 1
			}
			if f := r.previousList(prev); f != nil {
				defer f.Close()
				opts.PreviousList = f
			}
			folder := a.folder
			if a.uploads {
				folder = ""
			}
			opts.Damaged = r.knownDamage(folder)
			r.log.Info("incremental copy of "+what, "previous", prev.Name, "folder", a.folder)
		} else {
			r.log.Warn("previous backup has no "+a.folder+" folder; making a full copy of "+what, "previous", prev.Name)
		}
	} else {
		r.log.Info("no previous copy; making a full copy of "+what, "folder", a.folder)
	}
	ar.run = opts.Run

	listPath := filepath.Join(r.in(), a.list)
	lf, err := os.OpenFile(listPath, createFlags, 0o600)
	if err != nil {
		return ar, fmt.Errorf("create entry list %s: %w", a.list, r.named(err))
	}
	r.lists = append(r.lists, a.list)
	defer lf.Close()
	list := manifest.NewListWriter(lf)
	var res snapshot.Result
	if a.driver == config.DriverS3 {
		res, err = r.pull(ctx, a, opts, list)
	} else {
		res, err = snapshot.Take(ctx, opts, list)
	}
	ar.res = res
	if err != nil {
		return ar, fmt.Errorf("snapshot %s %s: %w", what, a.source, r.named(err))
	}
	if err := list.Close(); err != nil {
		return ar, fmt.Errorf("write entry list %s: %w", a.list, err)
	}
	if err := lf.Close(); err != nil {
		return ar, fmt.Errorf("write entry list %s: %w", a.list, err)
	}
	ar.listSHA, ar.count = list.SHA256(), list.Count()
	r.log.Info(what+" copied", "folder", a.folder,
		"files", res.Files, "linked", res.Linked, "copied", res.Copied,
		"copied_bytes", humanize.Bytes(res.CopiedBytes), "total_bytes", humanize.Bytes(res.Bytes),
		"dirs", res.Dirs, "symlinks", res.Symlinks, "skipped", res.Skipped,
		"rechecked", res.Rechecked, "compared", res.Compared, "refreshed", res.Refreshed)
	return ar, nil
}

// wrote records a file or folder the run created (relative to the
// temporary folder, slash-separated) for finalize's fsync.
func (r *run) wrote(rel string) {
	switch {
	case !r.writtenAll:
	case len(r.written) >= syncMax: // too many: finalize does one syncfs
		r.written, r.writtenAll = nil, false
	default:
		r.written = append(r.written, filepath.FromSlash(rel))
	}
}

// previousList opens the previous backup's entry list when its SHA-256 is
// the one its manifest records, positioned at its start; nil otherwise.
// Only a list that is vouched for may stand in for reading the linked
// files: a damaged or edited one would carry wrong hashes into the new
// backup, so without it every linked file is compared with the live one.
func (r *run) previousList(prev repo.Backup) *os.File {
	m := prev.Manifest
	if m == nil {
		r.log.Warn("previous backup has no entry list (made by backup.sh); unchanged files are compared with the live ones", "previous", prev.Name)
		return nil
	}
	if !m.Uploads.Vouched {
		r.log.Info("previous backup was made by an earlier version, whose entry list may hold unchecked hashes; unchanged files are compared with the live ones this once",
			"previous", prev.Name)
		return nil
	}
	// A list named outside the backup falls back to the default name.
	p, _, _ := prev.ListPath()
	// regfile: a symlink or FIFO planted there is not read.
	f, err := regfile.Open(p)
	if err != nil {
		r.log.Warn("cannot read the previous entry list; unchanged files are compared with the live ones", "previous", prev.Name, "err", err)
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
		r.log.Warn("cannot read the previous entry list; unchanged files are compared with the live ones", "previous", prev.Name, "err", err)
		return nil
	}
	if got := hex.EncodeToString(h.Sum(nil)); m.Uploads.ListSHA256 == "" || got != m.Uploads.ListSHA256 {
		f.Close()
		r.log.Warn("previous entry list does not match the checksum in its manifest; unchanged files are compared with the live ones",
			"previous", prev.Name, "sha256", got, "manifest_sha256", m.Uploads.ListSHA256)
		return nil
	}
	return f
}

// knownDamage collects the damage lists that verify left in the backups,
// for the files folder folder ("" = uploads/), keyed by path. An inode recorded in any backup is damaged in all that
// link it. The backups are those init listed: the lock held since then
// keeps any from being added or removed.
func (r *run) knownDamage(folder string) map[string][]snapshot.Damaged {
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
			if d.Folder != folder {
				continue
			}
			out[d.Path] = append(out[d.Path], snapshot.Damaged{Ino: d.Ino, Size: d.Size,
				MTime:    unix.Timespec{Sec: d.MTime.Sec, Nsec: d.MTime.Nsec},
				HasAttrs: d.MTime != (repo.Timespec{}), Backup: b.Name})
		}
	}
	return out
}
