package restore

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/directus-backup/directus-backup/internal/repo"
)

// ErrChecksum is wrapped by the error Uploads returns when the backup's
// uploads do not match the backup's entry list (a changed, missing or extra
// item, or a damaged list). Nothing has been changed when it is returned.
var ErrChecksum = errors.New("the backup does not match its manifest")

// ErrBusy is wrapped by the error Uploads returns when another restore into
// the same target is running. Nothing has been changed when it is returned.
var ErrBusy = errors.New("another restore into this folder is running")

// UploadsOptions for Uploads.
type UploadsOptions struct {
	Backup        repo.Backup                   // the backup to restore from (Complete: has a manifest; Legacy: no manifest)
	Target        string                        // the uploads folder to restore into (absolute); may not exist yet (its parent must)
	Force         bool                          // remove files in Target that are not in the backup
	Checksum      bool                          // link a live file only if its SHA-256 matches the entry list's (reads every live file)
	PreserveOwner bool                          // restore uid/gid (true when root, like rsync -a)
	Warn          func(msg string, args ...any) // slog-style; may be nil
	OnFile        func(bytes int64)             // progress, called after each file restored (copied or linked); may be nil
	// Offsite, when set, is where the uploads come from instead of the
	// backup's folder (an offsite copy); Backup then only names the
	// backup and carries its manifest (State Complete, Path unused).
	Offsite *UploadsOffsite
}

// UploadsResult describes a finished uploads restore.
type UploadsResult struct {
	Files, Dirs, Symlinks int64    // restored from the backup; Dirs includes the root
	Bytes                 int64    // total size of the restored files
	Linked                int64    // files equal to the backup's, hard-linked from the live folder into the new one
	Hashed                int64    // of the Linked files, those whose content was read and matched the entry list (Checksum)
	Copied                int64    // files copied from the backup
	Mismatched            int64    // live files that passed the quick check but whose content differed (Checksum): copied
	Unchanged             bool     // Target already was what the restore would make: nothing was written
	Kept                  int64    // items in Target not in the backup, kept (no Force)
	Removed               int64    // items in Target not in the backup, removed (Force), or that could not be kept
	Verified              bool     // every item checked against the manifest's entry list (false for legacy backups); content only of copied files
	Leftovers             []string // what earlier, interrupted restores had left beside Target, removed by this one
	Aside                 []string // folders the fallback swap of an interrupted restore moved aside (".name.old-X"): kept, never removed automatically
	Duration              time.Duration
}

// uploadsMaxProblems is how many differing paths an ErrChecksum error names.
const uploadsMaxProblems = 10

// Uploads restores the backup's uploads folder into opts.Target.
//
// A read-only first pass compares the backup with Target (type, size,
// mtime, mode, owner, link target: rsync's quick check). When Target
// already is what the restore would make, nothing is written.
//
// Otherwise a new tree is built in a stage folder beside Target: files that
// pass the quick check are hard-linked from Target (its inode is left
// untouched), the others copied from the backup (never linked: the running
// Directus must not be able to change the backup through the restored
// files) and checked against the backup's entry list, and what Target holds
// that the backup does not is carried over (unless Force). What was written
// is made durable, and only then is the stage swapped with Target in one
// rename. Every step that touches Target works relative to open folders,
// never re-resolving a path, so a subfolder swapped for a symlink cannot
// lead the restore outside Target.
//
// Any failure before the swap, including a cancelled ctx, removes the stage
// and leaves Target as it was: an error means Target is unchanged, except
// in the one case its message spells out (ErrHalfSwapped: the fallback swap
// failed half-way and could not be undone).
//
// Target and the stage are locked (flock) while the restore runs: a second
// restore into the same Target is refused (ErrBusy), and a stage whose lock
// is free is the leftover of a killed run, which the next run removes. A
// previous Target the fallback swap moved aside is never removed by a later
// run (it may be the only copy): it is reported in Aside.
//
// Uploads written into Target while the restore runs may be lost: stop
// Directus first.
func Uploads(ctx context.Context, opts UploadsOptions) (UploadsResult, error) {
	start := time.Now()
	u := &uploadsRun{ctx: ctx, opts: opts, warn: opts.Warn, pfd: -1, tfd: -1, sfd: -1}
	if u.warn == nil {
		u.warn = func(string, ...any) {}
	}
	err := u.run()
	u.close()
	u.res.Duration = time.Since(start)
	return u.res, err
}

// uploadsRun is the state of one Uploads call.
type uploadsRun struct {
	ctx  context.Context
	opts UploadsOptions
	warn func(msg string, args ...any)
	res  UploadsResult

	src    string // the backup's uploads folder
	target string // opts.Target, cleaned
	base   string // Target's name in its parent
	parent string // Target's parent folder
	exists bool   // Target existed when the restore started
	mount  uploadsMountKey

	pfd       int    // the parent folder, open
	tfd       int    // Target, open and locked (-1 when it does not exist)
	sfd       int    // the stage, open and locked
	stageName string // the stage's name in the parent

	// Owner of the backup folder: a backup made without root gives its
	// copies this owner, not the one its list records.
	backupUID, backupGID int
	ownerUnchecked       int64 // items whose owner was accepted for that reason

	mismatched []string // (in-order phase only) live files that passed the quick check with other content (Checksum), copied instead
}

func (u *uploadsRun) close() {
	for _, fd := range []*int{&u.sfd, &u.tfd, &u.pfd} {
		if *fd >= 0 {
			unix.Close(*fd)
			*fd = -1
		}
	}
}

func (u *uploadsRun) run() error {
	if err := u.check(); err != nil {
		return err
	}
	if err := u.openTarget(); err != nil {
		return err
	}
	u.removeLeftovers()
	if err := u.checkCtx("."); err != nil {
		return err
	}

	// With Checksum the quick check alone proves nothing: the folder is
	// always rebuilt, each live file hashed before it is linked.
	if u.exists && !u.checksum() {
		same, err := u.compare()
		if err != nil {
			return err
		}
		if same {
			u.res.Unchanged = true // nothing taken from the backup: Verified stays false
			return nil
		}
	}

	if err := u.makeStage(); err != nil {
		return err
	}
	swapped := false
	defer func() {
		if !swapped {
			if err := repo.RemoveTree(filepath.Join(u.parent, u.stageName)); err != nil {
				u.warn("cannot remove the restore's stage folder", "path", filepath.Join(u.parent, u.stageName), "err", err)
			}
		}
	}()

	sy, err := u.build()
	if err != nil {
		return err
	}
	u.legacyWarning()
	if err := sy.finish(u.sfd); err != nil {
		return fmt.Errorf("sync the restored uploads in %s: %w", filepath.Join(u.parent, u.stageName), err)
	}
	// The last moment a cancel can still leave Target untouched.
	if err := u.ctx.Err(); err != nil {
		return fmt.Errorf("restore of %s stopped: %w", u.target, err)
	}

	old, err := uploadsSwap(u.pfd, u.stageName, u.base, u.exists, true)
	if errors.Is(err, ErrHalfSwapped) {
		swapped = true // the stage and the old tree are all there is: keep both
		oldP, stageP := filepath.Join(u.parent, old), filepath.Join(u.parent, u.stageName)
		u.res.Aside = append(u.res.Aside, oldP)
		return fmt.Errorf("%s is missing: the previous uploads are in %s and the restored ones in %s; "+
			"put the previous ones back with: mv %s %s (or the restored ones in place with: mv %s %s): %w",
			u.target, oldP, stageP, uploadsShellQuote(oldP), uploadsShellQuote(u.target),
			uploadsShellQuote(stageP), uploadsShellQuote(u.target), err)
	}
	if err != nil {
		if !errors.Is(err, ErrBusy) {
			err = fmt.Errorf("%s: %w", u.target, err)
		}
		return err
	}
	swapped = true
	// From here on the restore has happened: problems are warnings, so that
	// an error always means Target was left as it was.
	u.res.Mismatched = int64(len(u.mismatched))
	for _, rel := range u.mismatched {
		u.warn("live file had the backup's size and time but other content; restored from the backup", "path", rel)
	}
	if err := unix.Fsync(u.pfd); err != nil {
		u.warn("uploads restored, but syncing their parent folder failed; a power cut could undo the restore",
			"path", u.parent, "err", err)
	}
	if old != "" {
		u.removeOld(old)
	}
	return nil
}

// removeOld removes the previous target, which a finished swap left at old
// beside Target. It is first renamed to a trash name, the one kind of tree
// moved aside that a later restore may remove as a leftover, and removed
// only while the name still is the folder this restore locked (u.tfd).
func (u *uploadsRun) removeOld(old string) {
	p := filepath.Join(u.parent, old)
	if err := u.isHeld(u.tfd, old); err != nil {
		u.warn("uploads restored, but the previous uploads folder was not removed", "path", p, "err", err)
		return
	}
	trash := uploadsNamePrefix(u.base) + "trash-" + uploadsRandom()
	if err := uploadsRenameNoReplace(u.pfd, old, trash); err != nil {
		u.warn("uploads restored, but the previous uploads folder could not be renamed for removal", "path", p, "err", err)
		return
	}
	p = filepath.Join(u.parent, trash)
	err := u.isHeld(u.tfd, trash)
	if err == nil {
		err = repo.RemoveTree(p)
	}
	if err != nil {
		u.warn("uploads restored, but the previous uploads folder could not be removed", "path", p, "err", err)
	}
}

// checksum reports whether live files are hashed before they are linked:
// asked for, and the backup has an entry list to compare with.
func (u *uploadsRun) checksum() bool {
	return u.opts.Checksum && u.opts.Backup.State == repo.Complete
}

func (u *uploadsRun) legacyWarning() {
	if u.opts.Backup.State != repo.Complete {
		u.warn("legacy backup without a manifest: the restored uploads cannot be verified", "backup", u.opts.Backup.Name)
	}
}

func (u *uploadsRun) checkCtx(rel string) error {
	if err := u.ctx.Err(); err != nil {
		return fmt.Errorf("restore stopped at %q: %w", rel, err)
	}
	return nil
}

// uploadsSync makes what a restore wrote durable: an fsync of each written
// file and folder while they are few, one syncfs of the filesystem beyond
// that. syncfs also waits for everything else pending on a shared disk,
// which is what makes a restore that wrote little slow; an fsync each is
// dearer than syncfs only for many items.
type uploadsSync struct {
	mu  sync.Mutex // phase 1 of a folder runs on several workers
	n   int        // items fsynced or due
	all bool
}

// uploadsSyncMax is how many fsyncs a restore does before it falls back to
// one syncfs. Measured on the benchmark machine (ext4 on a virtual disk,
// 16 KiB files): an fsync costs about 0.25 ms per item; syncfs 1.6 ms for
// 64 items alone, but 150-210 ms with 256 MiB of unrelated dirty data on
// the filesystem. At 64 an fsync each loses at most about 15 ms against
// the best syncfs and saves up to 150 ms against a busy one.
const uploadsSyncMax = 64

// fd fsyncs an open item the restore wrote (or linked while recently
// changed), unless there were too many already.
func (s *uploadsSync) fd(fd int) error {
	s.mu.Lock()
	if !s.all {
		if s.n++; s.n > uploadsSyncMax {
			s.all = true
		}
	}
	all := s.all
	s.mu.Unlock()
	if all {
		return nil
	}
	return unix.Fsync(fd)
}

// finish does the syncfs if it is due; the caller fsyncs the parent
// folder after the swap.
func (s *uploadsSync) finish(fd int) error {
	if !s.all {
		return nil
	}
	return unix.Syncfs(fd)
}

// uploadsNamePrefix is the start of every name the restore makes beside a
// target named base.
func uploadsNamePrefix(base string) string { return "." + base + "." }
