package s3files

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/directus-backup/directus-backup/internal/durable"
	"github.com/directus-backup/directus-backup/internal/manifest"
	"github.com/directus-backup/directus-backup/internal/offsite/s3store"
	"github.com/directus-backup/directus-backup/internal/parallel"
)

// DefaultWorkers is how many objects are downloaded or uploaded at once.
const DefaultWorkers = 8

// Modes of what Pull writes: objects carry no permissions.
const (
	fileMode = 0o644
	dirMode  = 0o755
)

// PullOptions says where the copy goes and what it may link to.
type PullOptions struct {
	Dest string // folder to create (must not exist yet; its parent exists)
	// Previous is the previous backup's folder of this location, and
	// PreviousList its entry list, vouched for by the caller (its checksum
	// matches its manifest): objects are linked only when both are given.
	Previous     string
	PreviousList io.Reader
	PreviousName string                        // for warnings
	Workers      int                           // parallel downloads; 0 = DefaultWorkers
	Warn         func(msg string, args ...any) // slog-style; may be nil; called from one goroutine at a time
	OnFile       func(bytes int64)             // after each file (progress); may be nil; called concurrently
}

// PullResult counts what Pull did.
type PullResult struct {
	Objects         int64 // files in the copy
	Bytes           int64 // their total size
	Dirs            int64 // folders, the root included
	Downloaded      int64
	DownloadedBytes int64
	Linked          int64 // hard-linked to the previous backup's file
	Vanished        int64 // listed, then deleted before their download: left out
}

// item is one file or folder of the copy.
type item struct {
	rel    string
	dir    bool
	marker bool // a folder that was an object of its own ("rel/")
	obj    s3store.Object
	prev   *manifest.Entry // previous backup's entry to link to
	entry  manifest.Entry  // filled in by the transfer
	gone   bool            // vanished before its download
}

// Pull copies the objects under loc's root into opts.Dest and writes one
// manifest.Entry per item to list, in manifest.ComparePaths order (the
// root first, Path "."). It does not close list. On error opts.Dest is
// left half-written for the caller to remove.
func Pull(ctx context.Context, loc Location, opts PullOptions, list *manifest.ListWriter) (PullResult, error) {
	var res PullResult
	if list == nil {
		return res, errors.New("s3files: no list writer")
	}
	st, err := loc.open()
	if err != nil {
		return res, err
	}
	var warnMu sync.Mutex
	warn := func(msg string, args ...any) {
		if opts.Warn != nil {
			warnMu.Lock()
			defer warnMu.Unlock()
			opts.Warn(msg, args...)
		}
	}
	items, err := listItems(ctx, st)
	if err != nil {
		return res, err
	}
	if opts.Previous != "" && opts.PreviousList != nil {
		if err := matchPrevious(items, opts.PreviousList); err != nil {
			warn("previous entry list unreadable, downloading every object", "previous", opts.PreviousName, "err", err)
			for _, it := range items {
				it.prev = nil
			}
		}
	}

	// The folders first, in order (a parent before its children).
	if err := os.Mkdir(opts.Dest, dirMode); err != nil {
		return res, fmt.Errorf("create %s: %w", opts.Dest, err)
	}
	dirs := []string{opts.Dest + "/"}
	var files []*item
	for _, it := range items {
		if it.dir {
			p := filepath.Join(opts.Dest, filepath.FromSlash(it.rel))
			if err := os.Mkdir(p, dirMode); err != nil {
				return res, fmt.Errorf("create %s: %w", p, err)
			}
			dirs = append(dirs, p+"/")
			continue
		}
		files = append(files, it)
	}

	workers := opts.Workers
	if workers <= 0 {
		workers = DefaultWorkers
	}
	p := &puller{st: st, opts: opts, warn: warn}
	if err := parallel.Each(ctx, len(files), workers, func(ctx context.Context, i int) error { return p.transfer(ctx, files[i]) }); err != nil {
		return res, fmt.Errorf("copy %s: %w", st.Where(), err)
	}

	// Folder times: the newest Last-Modified inside (a marker's own when
	// it has nothing newer), children before parents.
	newest := map[string]manifest.Time{}
	up := func(rel string, t manifest.Time) { // rel and every folder above it
		for {
			if cur, ok := newest[rel]; !ok || cmpTime(t, cur) > 0 {
				newest[rel] = t
			}
			if rel == "." {
				return
			}
			rel = parentOf(rel)
		}
	}
	for _, it := range items {
		switch {
		case it.gone:
		case !it.dir:
			up(parentOf(it.rel), it.entry.MTime)
		case it.marker:
			up(it.rel, manifest.TimeFromUnixNano(it.obj.LastModified.UnixNano()))
		}
	}
	root := &item{rel: ".", dir: true}
	all := append([]*item{root}, items...)
	for i := len(all) - 1; i >= 0; i-- {
		it := all[i]
		if !it.dir {
			continue
		}
		abs := filepath.Join(opts.Dest, filepath.FromSlash(it.rel))
		e, err := dirEntry(abs, it, newest[it.rel])
		if err != nil {
			return res, err
		}
		it.entry = e
	}
	for _, it := range all {
		switch {
		case it.gone:
			res.Vanished++
			continue
		case it.dir:
			res.Dirs++
		default:
			res.Objects++
			res.Bytes += it.entry.Size
			if it.prev != nil {
				res.Linked++
			} else {
				res.Downloaded++
				res.DownloadedBytes += it.entry.Size
			}
		}
		if err := list.Add(it.entry); err != nil {
			return res, fmt.Errorf("write entry list: %w", err)
		}
	}
	// Files were fsynced one by one; the new names need their folders'.
	if err := durable.SyncPaths(ctx, dirs); err != nil {
		return res, fmt.Errorf("sync %s: %w", opts.Dest, err)
	}
	return res, nil
}

// listItems lists the objects under the root and turns them into the
// copy's files and folders, in manifest.ComparePaths order. Keys that
// cannot be paths fail it (BadKeysError) before anything is written.
func listItems(ctx context.Context, st *s3store.Store) ([]*item, error) {
	var objs []s3store.Object
	for o, err := range st.List(ctx, "") {
		if err != nil {
			return nil, err
		}
		objs = append(objs, o)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	items, bad := itemsOf(objs)
	if len(bad) > 0 {
		return nil, &BadKeysError{Where: st.Where(), Keys: bad}
	}
	return items, nil
}

// itemsOf turns listed objects (keys below the root) into files and
// folders in manifest.ComparePaths order, and returns the keys that cannot
// be paths in the backup, sorted.
func itemsOf(objs []s3store.Object) ([]*item, []BadKey) {
	byRel := map[string]*item{}
	var bad []BadKey
	// In key order, a key comes before the keys it is a prefix of, so "a"
	// is seen before "a/" and "a/b"; sorted here rather than trusting the
	// server's order.
	slices.SortFunc(objs, func(a, b s3store.Object) int { return strings.Compare(a.Key, b.Key) })
	for _, o := range objs {
		rel, marker := o.Key, strings.HasSuffix(o.Key, "/")
		if marker {
			rel = strings.TrimSuffix(rel, "/")
			if rel == "" { // the root's own marker
				continue
			}
		}
		if why := checkRel(rel); why != "" {
			bad = append(bad, BadKey{Key: o.Key, Reason: why})
			continue
		}
		if old, ok := byRel[rel]; ok {
			if marker && old.dir { // the marker of a folder other keys implied
				old.marker, old.obj = true, o
			} else { // "a" and "a/"
				bad = append(bad, BadKey{Key: o.Key, Reason: "both an object and a folder"})
			}
			continue
		}
		byRel[rel] = &item{rel: rel, dir: marker, marker: marker, obj: o}
		// Every folder above it.
		for d := parentOf(rel); d != "."; d = parentOf(d) {
			old, ok := byRel[d]
			if !ok {
				byRel[d] = &item{rel: d, dir: true}
				continue
			}
			if !old.dir {
				bad = append(bad, BadKey{Key: old.obj.Key, Reason: "both an object and a folder"})
				old.dir = true // reported once
			}
			break
		}
	}
	slices.SortFunc(bad, func(a, b BadKey) int { return strings.Compare(a.Key, b.Key) })
	items := make([]*item, 0, len(byRel))
	for _, it := range byRel {
		items = append(items, it)
	}
	slices.SortFunc(items, func(a, b *item) int { return manifest.ComparePaths(a.rel, b.rel) })
	return items, bad
}

// parentOf returns rel's folder, "." for a top-level name.
func parentOf(rel string) string { return path.Dir(rel) }

func cmpTime(a, b manifest.Time) int {
	if a.Sec != b.Sec {
		return compare(a.Sec, b.Sec)
	}
	return compare(a.Nsec, b.Nsec)
}

func compare(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// matchPrevious walks the previous entry list in step with items (both in
// ComparePaths order) and marks the objects whose key, size and ETag it
// records, with a hash, for linking.
func matchPrevious(items []*item, prevList io.Reader) error {
	r := manifest.NewReader(prevList)
	var cur manifest.Entry
	have, done := false, false
	for _, it := range items {
		if it.dir {
			continue
		}
		for !done {
			if !have {
				e, err := r.Next()
				if err == io.EOF {
					done = true
					break
				}
				if err != nil {
					return err
				}
				cur, have = e, true
			}
			c := manifest.ComparePaths(cur.Path, it.rel)
			if c < 0 {
				have = false
				continue
			}
			if c == 0 && cur.Type == manifest.TypeFile && cur.ETag != "" && cur.ETag == it.obj.ETag &&
				cur.Size == it.obj.Size && manifest.IsSHA256(cur.SHA256) {
				e := cur
				it.prev = &e
			}
			break
		}
	}
	return nil
}

type puller struct {
	st   *s3store.Store
	opts PullOptions
	warn func(string, ...any)
}

// transfer links or downloads one object and fills in its entry.
func (p *puller) transfer(ctx context.Context, it *item) error {
	dest := filepath.Join(p.opts.Dest, filepath.FromSlash(it.rel))
	if it.prev != nil {
		if p.link(it, dest) {
			if p.opts.OnFile != nil {
				p.opts.OnFile(it.entry.Size)
			}
			return nil
		}
		it.prev = nil
	}
	const attempts = 3
	for try := 1; ; try++ {
		err := p.download(ctx, it, dest)
		if err == nil {
			if p.opts.OnFile != nil {
				p.opts.OnFile(it.entry.Size)
			}
			return nil
		}
		if errors.Is(err, s3store.ErrNotFound) {
			// Deleted since the listing, as Directus may do while we run:
			// like a local file that vanished, it is left out.
			p.warn("object deleted while the backup ran, left out", "key", it.obj.Key)
			it.gone = true
			return nil
		}
		if try == attempts || ctx.Err() != nil || errors.Is(err, s3store.ErrDenied) || errors.Is(err, s3store.ErrNoBucket) ||
			errors.Is(err, s3store.ErrUnreachable) {
			return err
		}
		p.warn("download failed, trying again", "key", it.obj.Key, "err", err)
	}
}

// link hard-links the previous backup's file when it is there with the
// recorded size; false (with a warning) makes the caller download.
func (p *puller) link(it *item, dest string) bool {
	src := filepath.Join(p.opts.Previous, filepath.FromSlash(it.rel))
	fi, err := os.Lstat(src)
	switch {
	case err != nil:
		p.warn("previous backup's copy unusable, downloading", "key", it.obj.Key, "previous", p.opts.PreviousName, "err", err)
		return false
	case !fi.Mode().IsRegular() || fi.Size() != it.prev.Size:
		p.warn("previous backup's copy is not the recorded file, downloading", "key", it.obj.Key, "previous", p.opts.PreviousName)
		return false
	}
	if err := os.Link(src, dest); err != nil { // EMLINK, EXDEV, ...
		p.warn("cannot link the previous backup's copy, downloading", "key", it.obj.Key, "err", err)
		return false
	}
	e := *it.prev
	e.Path = it.rel
	it.entry = e
	return true
}

// download writes the object to a temporary name beside dest, hashing it,
// and renames it into place once synced.
func (p *puller) download(ctx context.Context, it *item, dest string) (err error) {
	r, info, err := p.st.GetInfo(ctx, it.obj.Key)
	if err != nil {
		return err
	}
	defer r.Close()
	f, err := os.CreateTemp(filepath.Dir(dest), ".s3files-*.part")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	h := sha256.New()
	n, err := io.CopyBuffer(io.MultiWriter(f, h), ctxReader{ctx, r}, make([]byte, 256<<10))
	if err != nil {
		return err
	}
	if n != info.Size {
		return fmt.Errorf("download %s: got %d bytes, the server announced %d", it.obj.Key, n, info.Size)
	}
	if err := f.Chmod(fileMode); err != nil {
		return err
	}
	mt := manifest.TimeFromUnixNano(info.LastModified.UnixNano())
	if info.LastModified.IsZero() {
		mt = manifest.TimeFromUnixNano(time.Now().UnixNano())
	}
	ts := []unix.Timespec{uts(mt), uts(mt)}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, tmp, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &os.PathError{Op: "utimensat", Path: tmp, Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, dest); err != nil {
		return err
	}
	it.entry = manifest.Entry{Path: it.rel, Type: manifest.TypeFile, Size: n, Mode: fmt.Sprintf("%04o", fileMode),
		MTime: mt, UID: int(st.Uid), GID: int(st.Gid), SHA256: hex.EncodeToString(h.Sum(nil)), ETag: info.ETag}
	return nil
}

// dirEntry records a folder of the copy and gives it its time.
func dirEntry(abs string, it *item, mt manifest.Time) (manifest.Entry, error) {
	if mt == (manifest.Time{}) && it.marker {
		mt = manifest.TimeFromUnixNano(it.obj.LastModified.UnixNano())
	}
	// Explicit: the umask must not change what the entry says.
	if err := os.Chmod(abs, dirMode); err != nil {
		return manifest.Entry{}, err
	}
	if mt != (manifest.Time{}) {
		ts := []unix.Timespec{uts(mt), uts(mt)}
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, abs, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return manifest.Entry{}, &os.PathError{Op: "utimensat", Path: abs, Err: err}
		}
	}
	var st unix.Stat_t
	if err := unix.Lstat(abs, &st); err != nil {
		return manifest.Entry{}, &os.PathError{Op: "lstat", Path: abs, Err: err}
	}
	e := manifest.Entry{Path: it.rel, Type: manifest.TypeDir, Mode: fmt.Sprintf("%04o", dirMode),
		MTime: manifest.Time{Sec: st.Mtim.Sec, Nsec: st.Mtim.Nsec}, UID: int(st.Uid), GID: int(st.Gid)}
	if it.marker {
		e.ETag = it.obj.ETag // Push recreates the marker object
	}
	return e, nil
}

func uts(t manifest.Time) unix.Timespec { return unix.Timespec{Sec: t.Sec, Nsec: t.Nsec} }

// ctxReader stops a copy at the next read once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
