package restore

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/directus-backup/directus-backup/internal/dirnames"
	"github.com/directus-backup/directus-backup/internal/durable"
	"github.com/directus-backup/directus-backup/internal/manifest"
	"github.com/directus-backup/directus-backup/internal/regfile"
	"github.com/directus-backup/directus-backup/internal/repo"
	"github.com/directus-backup/directus-backup/internal/snapshot"
)

// ErrChecksum is wrapped by the error Uploads returns when the backup's
// uploads do not match the backup's entry list (a changed, missing or extra
// item, or a damaged list). Nothing has been changed when it is returned.
var ErrChecksum = errors.New("the backup does not match its manifest")

// UploadsOptions for Uploads.
type UploadsOptions struct {
	Backup        repo.Backup                   // the backup to restore from (Complete: has a manifest; Legacy: no manifest)
	Target        string                        // the uploads folder to restore into (absolute); may not exist yet (its parent must)
	Force         bool                          // remove files in Target that are not in the backup
	PreserveOwner bool                          // restore uid/gid (true when root, like rsync -a)
	Warn          func(msg string, args ...any) // slog-style; may be nil
	OnFile        func(bytes int64)             // progress, called after each file copied from the backup; may be nil
}

// UploadsResult describes a finished uploads restore.
type UploadsResult struct {
	Files, Dirs, Symlinks int64 // restored from the backup; Dirs includes the root
	Bytes                 int64 // total size of the restored files
	Kept                  int64 // items in Target not in the backup, kept (no Force)
	Removed               int64 // items in Target not in the backup, removed (Force), or that could not be kept
	Verified              bool  // every item checked against the manifest's entry list (false for legacy backups)
	Duration              time.Duration
}

// uploadsMaxProblems is how many differing paths an ErrChecksum error names.
const uploadsMaxProblems = 10

// uploadsModeBits keeps the permission, setuid, setgid and sticky bits of a
// unix st_mode.
const uploadsModeBits = 0o7777

// Uploads restores the backup's uploads folder into opts.Target.
//
// The backup is copied into a stage folder beside Target (never hard-linked:
// the running Directus must not be able to change the backup through the
// restored files), checked against the backup's entry list, merged with what
// Target holds that the backup does not (unless Force), synced, and only then
// swapped with Target in one rename. Any failure before the swap, including
// a cancelled ctx, removes the stage and leaves Target as it was: an error
// means Target is unchanged, except in the one case its message spells out
// (the fallback swap failed half-way and could not be undone).
//
// Uploads written into Target while the restore runs may be lost: stop
// Directus first.
func Uploads(ctx context.Context, opts UploadsOptions) (UploadsResult, error) {
	start := time.Now()
	u := &uploadsRun{ctx: ctx, opts: opts, warn: opts.Warn}
	if u.warn == nil {
		u.warn = func(string, ...any) {}
	}
	err := u.run()
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
	parent string // Target's parent folder
	stage  string // the new tree, beside Target
	list   string // the stage's fresh entry list, beside the stage
	exists bool   // Target existed when the restore started
	mount  uploadsMountKey

	// Owner of the backup folder: a backup made without root gives its
	// copies this owner, not the one its list records.
	backupUID, backupGID int
	ownerUnchecked       int64 // items whose owner was accepted for that reason

	buf []byte // copy buffer of the rare copy fallback, allocated on use
}

func (u *uploadsRun) run() error {
	if err := u.check(); err != nil {
		return err
	}
	suffix := uploadsRandom()
	u.stage = filepath.Join(u.parent, "."+filepath.Base(u.target)+".restore-"+suffix)
	u.list = u.stage + ".list"
	swapped := false
	defer func() {
		if err := os.Remove(u.list); err != nil && !errors.Is(err, fs.ErrNotExist) {
			u.warn("cannot remove the temporary entry list", "path", u.list, "err", err)
		}
		if !swapped {
			if err := repo.RemoveTree(u.stage); err != nil {
				u.warn("cannot remove the restore's stage folder", "path", u.stage, "err", err)
			}
		}
	}()

	if err := u.copy(); err != nil {
		return err
	}
	if u.opts.Backup.State == repo.Complete {
		if err := u.verify(); err != nil {
			return err
		}
		u.res.Verified = true
	} else {
		u.warn("legacy backup without a manifest: the restored uploads cannot be verified", "backup", u.opts.Backup.Name)
	}
	if u.exists {
		if err := u.mergeDir(".", u.target, u.stage); err != nil {
			return err
		}
	}
	// One syncfs makes every restored file durable before it becomes the
	// uploads folder; far cheaper than an fsync per file.
	if err := durable.SyncFS(u.stage); err != nil {
		return fmt.Errorf("sync the restored uploads in %s: %w", u.stage, err)
	}
	// The last moment a cancel can still leave Target untouched.
	if err := u.ctx.Err(); err != nil {
		return fmt.Errorf("restore of %s stopped: %w", u.target, err)
	}

	old, err := uploadsSwap(u.stage, u.target, true)
	if err != nil {
		if old != "" {
			swapped = true // the stage and the old tree are all there is: keep both
		}
		return err
	}
	swapped = true
	// From here on the restore has happened: problems are warnings, so that
	// an error always means Target was left as it was.
	if err := durable.SyncDir(u.parent); err != nil {
		u.warn("uploads restored, but syncing their parent folder failed; a power cut could undo the restore",
			"path", u.parent, "err", err)
	}
	if old != "" {
		if err := repo.RemoveTree(old); err != nil {
			u.warn("uploads restored, but the previous uploads folder could not be removed", "path", old, "err", err)
		}
	}
	return nil
}

// check validates the options and records what Target and the backup are,
// before anything is written.
func (u *uploadsRun) check() error {
	o := u.opts
	if o.Target == "" || !filepath.IsAbs(o.Target) {
		return fmt.Errorf("uploads target %q is not an absolute path", o.Target)
	}
	u.target = filepath.Clean(o.Target)
	u.parent = filepath.Dir(u.target)
	if u.target == u.parent {
		return fmt.Errorf("cannot restore uploads into %s: it has no parent folder to stage in", u.target)
	}

	b := o.Backup
	switch {
	case b.State == repo.Complete && b.Manifest == nil:
		return fmt.Errorf("backup %s: complete but its manifest is not loaded", b.Name)
	case b.State != repo.Complete && b.State != repo.Legacy:
		return fmt.Errorf("backup %s is %s; only complete or legacy backups can be restored", b.Name, b.State)
	}
	bfi, err := os.Stat(b.Path)
	if err != nil {
		return fmt.Errorf("backup %s: %w", b.Name, err)
	}
	bst := bfi.Sys().(*syscall.Stat_t)
	u.backupUID, u.backupGID = int(bst.Uid), int(bst.Gid)
	u.src = filepath.Join(b.Path, repo.UploadsDir)
	sfi, err := os.Lstat(u.src)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("backup %s has no %s folder", b.Name, repo.UploadsDir)
	}
	if err != nil {
		return fmt.Errorf("backup %s: %w", b.Name, err)
	}
	if !sfi.IsDir() { // a symlink could lead anywhere
		return fmt.Errorf("backup %s: %s is not a folder", b.Name, u.src)
	}

	pfi, err := os.Stat(u.parent)
	if err != nil {
		return fmt.Errorf("parent folder of the uploads target: %w", err)
	}
	if !pfi.IsDir() {
		return fmt.Errorf("parent of the uploads target, %s, is not a folder", u.parent)
	}
	tfi, err := os.Lstat(u.target)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("uploads target: %w", err)
	case tfi.Mode().Type() == fs.ModeSymlink:
		// The swap would replace the link itself with a folder.
		return fmt.Errorf("uploads target %s is a symlink; restore into the folder it points to", u.target)
	case !tfi.IsDir():
		return fmt.Errorf("uploads target %s exists and is not a folder", u.target)
	default:
		u.exists = true
	}

	// Compare real paths, so that symlinked parents cannot hide an overlap.
	backupReal, err := filepath.EvalSymlinks(b.Path)
	if err != nil {
		return fmt.Errorf("backup %s: %w", b.Name, err)
	}
	parentReal, err := filepath.EvalSymlinks(u.parent)
	if err != nil {
		return fmt.Errorf("parent folder of the uploads target: %w", err)
	}
	targetReal := filepath.Join(parentReal, filepath.Base(u.target))
	if uploadsWithin(targetReal, backupReal) {
		return fmt.Errorf("uploads target %s is inside the backup %s; refusing to restore", u.target, b.Path)
	}
	if uploadsWithin(filepath.Join(backupReal, repo.UploadsDir), targetReal) {
		return fmt.Errorf("the backup's uploads %s are inside the uploads target %s; refusing to restore", u.src, u.target)
	}

	if u.exists {
		pk, err := uploadsMountOf(u.parent)
		if err != nil {
			return fmt.Errorf("parent folder of the uploads target: %w", err)
		}
		if u.mount, err = uploadsMountOf(u.target); err != nil {
			return fmt.Errorf("uploads target: %w", err)
		}
		// The swap is a rename in the parent, which cannot move a mount
		// point; find out now rather than after copying everything.
		if pk != u.mount {
			return uploadsMountErr(u.target, errors.New("different mount than its parent folder"))
		}
	}
	return nil
}

// copy copies the backup's uploads into the stage, writing the fresh entry
// list (with the SHA-256 of every file as copied) beside it.
func (u *uploadsRun) copy() error {
	lf, err := os.OpenFile(u.list, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create temporary entry list: %w", err)
	}
	defer lf.Close()
	list := manifest.NewListWriter(lf)
	// Previous "": every file is a real copy, never a link into the backup.
	r, err := snapshot.Take(u.ctx, snapshot.Options{
		Source:        u.src,
		Dest:          u.stage,
		PreserveOwner: u.opts.PreserveOwner,
		Warn:          u.warn,
		OnFile:        u.opts.OnFile,
	}, list)
	u.res.Files, u.res.Dirs, u.res.Symlinks, u.res.Bytes = r.Files, r.Dirs, r.Symlinks, r.Bytes
	if err != nil {
		return fmt.Errorf("copy %s: %w", u.src, err)
	}
	if err := list.Close(); err != nil {
		return fmt.Errorf("write temporary entry list: %w", err)
	}
	if err := lf.Close(); err != nil {
		return fmt.Errorf("write temporary entry list: %w", err)
	}
	return nil
}

// verify compares the stage's fresh entry list with the backup's, streaming
// both (they are in the same order). Every field must match: contents
// through the SHA-256s, and the attributes too, since the backup's files are
// hard links shared by several backups and a difference means someone
// changed them.
func (u *uploadsRun) verify() error {
	b := u.opts.Backup
	m := b.Manifest
	name := m.Uploads.ListFile
	if name == "" {
		name = manifest.FilesListName
	}
	if name != filepath.Base(name) || name == "." || name == ".." {
		return fmt.Errorf("%w: manifest of backup %s names an entry list outside the backup: %q", ErrChecksum, b.Name, name)
	}
	wf, err := regfile.Open(filepath.Join(b.Path, name))
	if err != nil {
		return fmt.Errorf("open the entry list of backup %s (needed to verify the uploads): %w", b.Name, err)
	}
	defer wf.Close()
	listHash := sha256.New()
	want := manifest.NewReader(io.TeeReader(wf, listHash))
	gf, err := os.Open(u.list)
	if err != nil {
		return fmt.Errorf("read temporary entry list: %w", err)
	}
	defer gf.Close()
	got := manifest.NewReader(gf)

	var problems []string
	var n int64
	add := func(p, what string) {
		n++
		if len(problems) < uploadsMaxProblems {
			problems = append(problems, fmt.Sprintf("%q %s", p, what))
		}
	}
	g, gerr := got.Next()
	w, werr := want.Next()
	for i := 0; ; i++ {
		if gerr != nil && gerr != io.EOF {
			return fmt.Errorf("read temporary entry list: %w", gerr)
		}
		if werr != nil && werr != io.EOF {
			return fmt.Errorf("%w: entry list of backup %s is damaged: %v", ErrChecksum, b.Name, werr)
		}
		if gerr == io.EOF && werr == io.EOF {
			break
		}
		if i%4096 == 0 {
			if err := u.ctx.Err(); err != nil {
				return fmt.Errorf("verify backup %s: %w", b.Name, err)
			}
		}
		switch {
		case werr == io.EOF || (gerr == nil && manifest.ComparePaths(g.Path, w.Path) < 0):
			add(g.Path, "is in the backup but not in its entry list")
			g, gerr = got.Next()
		case gerr == io.EOF || manifest.ComparePaths(g.Path, w.Path) > 0:
			add(w.Path, "is in the entry list but missing from the backup")
			w, werr = want.Next()
		default:
			if d := u.entryDiff(g, w); d != "" {
				add(g.Path, d)
			}
			g, gerr = got.Next()
			w, werr = want.Next()
		}
	}
	if sum := hex.EncodeToString(listHash.Sum(nil)); m.Uploads.ListSHA256 != "" && sum != m.Uploads.ListSHA256 {
		add(name, "has a SHA-256 other than the one manifest.json records")
	}
	if n > 0 {
		return fmt.Errorf("%w: the uploads of backup %s do not match its entry list (%d differences; first: %s); nothing was changed",
			ErrChecksum, b.Name, n, strings.Join(problems, "; "))
	}
	if u.ownerUnchecked > 0 {
		u.warn("some items of the backup have the backup's own owner instead of the one the entry list records "+
			"(a backup made without root); their owners were not checked and they are restored with the backup's owner",
			"backup", b.Name, "items", u.ownerUnchecked)
	}
	return nil
}

// entryDiff describes how the restored entry g differs from the recorded
// entry w, or returns "".
func (u *uploadsRun) entryDiff(g, w manifest.Entry) string {
	if g.Type != w.Type {
		return fmt.Sprintf("is a %s, the entry list says %s", g.Type, w.Type)
	}
	var d []string
	if g.Size != w.Size {
		d = append(d, fmt.Sprintf("size %d, recorded %d", g.Size, w.Size))
	}
	if g.SHA256 != w.SHA256 {
		d = append(d, fmt.Sprintf("content differs (SHA-256 %.12s…, recorded %.12s…)", g.SHA256, w.SHA256))
	}
	if g.Target != w.Target {
		d = append(d, fmt.Sprintf("link target %q, recorded %q", g.Target, w.Target))
	}
	if g.Mode != w.Mode {
		d = append(d, fmt.Sprintf("mode %s, recorded %s", g.Mode, w.Mode))
	}
	if g.MTime != w.MTime {
		d = append(d, fmt.Sprintf("mtime %s, recorded %s", g.MTime, w.MTime))
	}
	// A backup made without root records the source's owner but its copies
	// belong to the user who made it (who also owns the backup folder).
	lenient := false
	if g.UID != w.UID {
		if g.UID == u.backupUID {
			lenient = true
		} else {
			d = append(d, fmt.Sprintf("uid %d, recorded %d", g.UID, w.UID))
		}
	}
	if g.GID != w.GID {
		if g.GID == u.backupGID {
			lenient = true
		} else {
			d = append(d, fmt.Sprintf("gid %d, recorded %d", g.GID, w.GID))
		}
	}
	if len(d) == 0 && lenient {
		u.ownerUnchecked++
	}
	return strings.Join(d, ", ")
}

// mergeDir carries over into the stage folder sdir what the target folder
// tdir holds that the backup does not (or counts it as removed with Force).
// Both are real folders at the same path rel.
func (u *uploadsRun) mergeDir(rel, tdir, sdir string) error {
	if err := u.sameMount(rel, tdir); err != nil {
		return err
	}
	names, err := dirnames.All(tdir)
	if err != nil {
		return fmt.Errorf("read folder %q of %s: %w", rel, u.target, err)
	}
	var saved *syscall.Stat_t // sdir's attributes, saved before it is first changed
	for _, name := range names {
		crel := path.Join(rel, name)
		if err := u.checkCtx(crel); err != nil {
			return err
		}
		tp, sp := filepath.Join(tdir, name), filepath.Join(sdir, name)
		sfi, err := os.Lstat(sp)
		if err == nil { // in the backup: the backup's version wins
			tfi, err := os.Lstat(tp)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return fmt.Errorf("stat %q in %s: %w", crel, u.target, err)
			}
			if !tfi.IsDir() {
				continue
			}
			if sfi.IsDir() {
				if err := u.mergeDir(crel, tp, sp); err != nil {
					return err
				}
				continue
			}
			// A folder where the backup has a file: what it holds cannot
			// be kept.
			k, err := u.countTree(crel, tp, false)
			if err != nil {
				return err
			}
			u.res.Removed += k
			if k > 0 && !u.opts.Force {
				u.warn("a folder in the target is not a folder in the backup; what it holds is not kept", "path", crel, "items", k)
			}
			continue
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("stat %q in the stage: %w", crel, err)
		}
		if u.opts.Force {
			k, err := u.countTree(crel, tp, true)
			if err != nil {
				return err
			}
			u.res.Removed += k
			continue
		}
		if saved == nil {
			if saved, err = u.openStageDir(rel, sdir); err != nil {
				return err
			}
		}
		if err := u.keep(crel, tp, sp); err != nil {
			return err
		}
	}
	if saved != nil {
		return u.closeStageDir(rel, sdir, saved)
	}
	return nil
}

// openStageDir makes a restored folder writable for the kept items about to
// be added (a non-root user cannot write into a 0555 folder) and returns its
// attributes, to be put back by closeStageDir.
func (u *uploadsRun) openStageDir(rel, sdir string) (*syscall.Stat_t, error) {
	fi, err := os.Lstat(sdir)
	if err != nil {
		return nil, fmt.Errorf("stat %q in the stage: %w", rel, err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if os.Geteuid() != 0 && st.Mode&0o300 != 0o300 {
		if err := syscall.Chmod(sdir, st.Mode&uploadsModeBits|0o700); err != nil {
			return nil, fmt.Errorf("chmod %q in the stage: %w", rel, err)
		}
	}
	return st, nil
}

// closeStageDir puts back the backup's mode and times of a restored folder
// that got kept items (adding them changed its mtime).
func (u *uploadsRun) closeStageDir(rel, sdir string, st *syscall.Stat_t) error {
	if err := syscall.Chmod(sdir, st.Mode&uploadsModeBits); err != nil {
		return fmt.Errorf("chmod %q in the stage: %w", rel, err)
	}
	if err := uploadsSetTimes(sdir, st); err != nil {
		return fmt.Errorf("set times of %q in the stage: %w", rel, err)
	}
	return nil
}

// keep recreates the target's item src (not in the backup) at dst in the
// stage: files are hard-linked (cheap, and the old target stays intact until
// the swap), symlinks and folders recreated with their attributes.
func (u *uploadsRun) keep(rel, src, dst string) error {
	if err := u.checkCtx(rel); err != nil {
		return err
	}
	fi, err := os.Lstat(src)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // deleted since the folder was read: nothing to keep
	}
	if err != nil {
		return fmt.Errorf("stat %q in %s: %w", rel, u.target, err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	switch fi.Mode().Type() {
	case fs.ModeDir:
		if err := u.sameMount(rel, src); err != nil {
			return err
		}
		names, err := dirnames.All(src)
		if err != nil {
			return fmt.Errorf("read folder %q of %s: %w", rel, u.target, err)
		}
		// 0700 while children are added; the real mode comes last.
		if err := os.Mkdir(dst, 0o700); err != nil {
			return fmt.Errorf("create folder %q in the stage: %w", rel, err)
		}
		u.res.Kept++
		for _, name := range names {
			if err := u.keep(path.Join(rel, name), filepath.Join(src, name), filepath.Join(dst, name)); err != nil {
				return err
			}
		}
		return u.setAttrs(rel, dst, st, false)
	case 0:
		err := os.Link(src, dst)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			// Too many links, or not allowed (protected_hardlinks): copy.
			if !errors.Is(err, syscall.EMLINK) && !errors.Is(err, syscall.EPERM) && !errors.Is(err, syscall.EXDEV) {
				return fmt.Errorf("link %q from %s: %w", rel, u.target, err)
			}
			if err := u.copyFile(rel, src, dst, st); err != nil {
				return err
			}
		}
		u.res.Kept++
		return nil
	case fs.ModeSymlink:
		t, err := os.Readlink(src)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read symlink %q in %s: %w", rel, u.target, err)
		}
		if err := os.Symlink(t, dst); err != nil {
			return fmt.Errorf("create symlink %q in the stage: %w", rel, err)
		}
		u.res.Kept++
		return u.setAttrs(rel, dst, st, true)
	default:
		// Sockets, FIFOs, devices: a hard link keeps them as they are.
		if err := os.Link(src, dst); err != nil {
			u.warn("special file in the target could not be kept", "path", rel, "err", err)
			u.res.Removed++
			return nil
		}
		u.res.Kept++
		return nil
	}
}

// copyFile copies a kept file that could not be hard-linked.
func (u *uploadsRun) copyFile(rel, src, dst string, st *syscall.Stat_t) error {
	in, err := os.OpenFile(src, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return fmt.Errorf("open %q in %s: %w", rel, u.target, err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create %q in the stage: %w", rel, err)
	}
	if u.buf == nil {
		u.buf = make([]byte, 1<<20)
	}
	for {
		if err := u.checkCtx(rel); err != nil {
			out.Close()
			return err
		}
		k, rerr := in.Read(u.buf)
		if k > 0 {
			if _, err := out.Write(u.buf[:k]); err != nil {
				out.Close()
				return fmt.Errorf("write %q in the stage: %w", rel, err)
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			out.Close()
			return fmt.Errorf("read %q in %s: %w", rel, u.target, rerr)
		}
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("write %q in the stage: %w", rel, err)
	}
	return u.setAttrs(rel, dst, st, false)
}

// setAttrs gives a recreated item the owner (when preserved), mode and
// times of the original. The owner goes first because chown clears the
// setuid and setgid bits. Symlinks have no mode of their own on Linux.
func (u *uploadsRun) setAttrs(rel, p string, st *syscall.Stat_t, symlink bool) error {
	if u.opts.PreserveOwner {
		if err := os.Lchown(p, int(st.Uid), int(st.Gid)); err != nil {
			return fmt.Errorf("chown %q in the stage: %w", rel, err)
		}
	}
	if !symlink {
		if err := syscall.Chmod(p, st.Mode&uploadsModeBits); err != nil {
			return fmt.Errorf("chmod %q in the stage: %w", rel, err)
		}
	}
	if err := uploadsSetTimes(p, st); err != nil {
		return fmt.Errorf("set times of %q in the stage: %w", rel, err)
	}
	return nil
}

// countTree counts the items of the target's tree at p (p itself when self)
// that will not be carried over, checking that no folder in it is a mount
// point: removing the old tree would delete what is mounted there.
func (u *uploadsRun) countTree(rel, p string, self bool) (int64, error) {
	var n int64
	err := filepath.WalkDir(p, func(q string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil // vanished meanwhile
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", q, err)
		}
		if err := u.checkCtx(rel); err != nil {
			return err
		}
		if d.IsDir() {
			if err := u.sameMount(rel, q); err != nil {
				return err
			}
		}
		if q != p || self {
			n++
		}
		return nil
	})
	return n, err
}

// sameMount returns an error when the target's folder p is on another mount
// than the target itself.
func (u *uploadsRun) sameMount(rel, p string) error {
	k, err := uploadsMountOf(p)
	if err != nil {
		return fmt.Errorf("stat %q in %s: %w", rel, u.target, err)
	}
	if k != u.mount {
		return fmt.Errorf("%s is a mount point (or on another filesystem) inside the uploads target %s: "+
			"replacing the target would delete what is mounted there; nothing was changed", p, u.target)
	}
	return nil
}

func (u *uploadsRun) checkCtx(rel string) error {
	if err := u.ctx.Err(); err != nil {
		return fmt.Errorf("restore stopped at %q: %w", rel, err)
	}
	return nil
}

// uploadsSwap puts the folder stage in target's place. When target does not
// exist this is a rename. Otherwise, with exchange, the two are swapped in
// one renameat2(RENAME_EXCHANGE), so there is no moment without a target;
// where the filesystem or kernel cannot do that (or without exchange), the
// target is renamed aside and the stage renamed into its place (and the
// target moved back if that fails).
//
// It returns where the previous target now is ("" when there was none), for
// the caller to remove. On error nothing was changed, except when old is not
// "": then target is missing, the stage is still at stage and the previous
// target at old.
func uploadsSwap(stage, target string, exchange bool) (old string, err error) {
	if _, err := os.Lstat(target); errors.Is(err, fs.ErrNotExist) {
		if err := os.Rename(stage, target); err != nil {
			return "", uploadsSwapErr(target, err)
		}
		return "", nil
	} else if err != nil {
		return "", fmt.Errorf("uploads target: %w", err)
	}
	if exchange {
		err := unix.Renameat2(unix.AT_FDCWD, stage, unix.AT_FDCWD, target, unix.RENAME_EXCHANGE)
		if err == nil {
			return stage, nil
		}
		if !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOSYS) && !errors.Is(err, unix.EOPNOTSUPP) {
			return "", uploadsSwapErr(target, err)
		}
	}
	old = filepath.Join(filepath.Dir(target), "."+filepath.Base(target)+".old-"+uploadsRandom())
	if err := os.Rename(target, old); err != nil {
		return "", uploadsSwapErr(target, err)
	}
	if err := os.Rename(stage, target); err != nil {
		if berr := os.Rename(old, target); berr != nil {
			return old, fmt.Errorf("move the restored uploads %s to %s: %v; moving the previous uploads back from %s failed too: %w",
				stage, target, err, old, berr)
		}
		return "", uploadsSwapErr(target, err)
	}
	return old, nil
}

// uploadsSwapErr explains a failed rename of the target; nothing was changed.
func uploadsSwapErr(target string, err error) error {
	if errors.Is(err, syscall.EBUSY) || errors.Is(err, syscall.EXDEV) {
		return uploadsMountErr(target, err)
	}
	return fmt.Errorf("move the restored uploads into place at %s (nothing was changed): %w", target, err)
}

func uploadsMountErr(target string, err error) error {
	return fmt.Errorf("uploads target %s is a mount point or on another filesystem than its parent folder: "+
		"the restore replaces it by a rename, which cannot be done there, and does not copy in place; "+
		"nothing was changed (restore into a folder on the parent's filesystem and mount that instead): %w", target, err)
}

// uploadsMountKey identifies the filesystem and mount an item is on. The
// mount ID also tells a bind mount of the same filesystem apart.
type uploadsMountKey struct{ dev, mnt uint64 }

func uploadsMountOf(p string) (uploadsMountKey, error) {
	var stx unix.Statx_t
	err := unix.Statx(unix.AT_FDCWD, p, unix.AT_SYMLINK_NOFOLLOW, unix.STATX_MNT_ID, &stx)
	if errors.Is(err, unix.ENOSYS) { // kernels before 4.11
		fi, err := os.Lstat(p)
		if err != nil {
			return uploadsMountKey{}, err
		}
		return uploadsMountKey{dev: uint64(fi.Sys().(*syscall.Stat_t).Dev)}, nil
	}
	if err != nil {
		return uploadsMountKey{}, &os.PathError{Op: "statx", Path: p, Err: err}
	}
	k := uploadsMountKey{dev: unix.Mkdev(stx.Dev_major, stx.Dev_minor)}
	if stx.Mask&unix.STATX_MNT_ID != 0 { // kernels since 5.8
		k.mnt = stx.Mnt_id
	}
	return k, nil
}

// uploadsWithin reports whether p is dir or inside it (both clean, absolute).
func uploadsWithin(p, dir string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

// uploadsSetTimes sets p's access and modification times to those of st,
// without following a symlink.
func uploadsSetTimes(p string, st *syscall.Stat_t) error {
	ts := []unix.Timespec{unix.Timespec(st.Atim), unix.Timespec(st.Mtim)} // not via int64 ns: they end in 2262
	return unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW)
}

// uploadsRandom returns a random name suffix.
func uploadsRandom() string {
	var b [8]byte
	rand.Read(b[:]) // never fails (it crashes the program instead)
	return hex.EncodeToString(b[:])
}
