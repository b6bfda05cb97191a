package restore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/directus-backup/directus-backup/internal/fsmeta"
	"github.com/directus-backup/directus-backup/internal/manifest"
)

// The stage walk and the compare pass read the backup's uploads through
// uploadsDir: the backup's own folder (fdDir, a local restore), or the
// backup's entry list with each file's content fetched by its SHA-256
// (listDir, a restore from an offsite copy, which has no folder). Both
// give the walk the same names in the same order and the same stats, so
// linking live files, merging, verifying and swapping are shared.

// uploadsDir is one folder of the backup's uploads.
type uploadsDir interface {
	// names lists the folder's names in byte order (the entry list's).
	names(spill string) (uploadsNameIter, error)
	// stat is fstatat without following a symlink; a gone name is ENOENT.
	stat(name string, st *unix.Stat_t) error
	// sub opens the subfolder name.
	sub(name string) (uploadsDir, error)
	// readlink returns the target of the symlink name.
	readlink(name string) (string, error)
	// copyFile copies the file name, whose stat was st, into the new file
	// name of the stage folder sfd (see uploadsWalk.copyFile).
	copyFile(w *uploadsWalk, rel, name string, sfd int, st *unix.Stat_t) (*unix.Stat_t, int64, string, error)
	close()
}

// uploadsNameIter is dirnames.Iter's reading side.
type uploadsNameIter interface {
	Batch(n int) []string
	Err() error
	Close() error
}

// UploadsOffsite is a backup's uploads read from an offsite copy: its
// entry list, and the content of each file by SHA-256.
type UploadsOffsite struct {
	List []byte // the backup's manifest.files.jsonl
	// Open returns a file's content by its SHA-256; the reader's last Read
	// must fail when the content is not what was recorded.
	Open  func(ctx context.Context, sha256 string) (io.ReadCloser, error)
	Jobs  int    // files downloaded at once; 0: 8
	Where string // the bucket, for messages
}

func (o *UploadsOffsite) jobs() int {
	if o.Jobs > 0 {
		return o.Jobs
	}
	return 8
}

// fdDir is a folder of a local backup, open.
type fdDir struct {
	fd     int
	backup string // for messages
}

func (d fdDir) names(spill string) (uploadsNameIter, error) { return uploadsNames(d.fd, spill) }

func (d fdDir) stat(name string, st *unix.Stat_t) error {
	return unix.Fstatat(d.fd, name, st, unix.AT_SYMLINK_NOFOLLOW)
}

func (d fdDir) sub(name string) (uploadsDir, error) {
	fd, err := uploadsOpenDir(d.fd, name)
	if err != nil {
		return nil, err
	}
	return fdDir{fd: fd, backup: d.backup}, nil
}

func (d fdDir) readlink(name string) (string, error) { return fsmeta.Readlinkat(d.fd, name) }

func (d fdDir) copyFile(w *uploadsWalk, rel, name string, sfd int, st *unix.Stat_t) (*unix.Stat_t, int64, string, error) {
	return w.copyFile(rel, d.fd, name, sfd, "backup "+d.backup, st)
}

func (d fdDir) close() { unix.Close(d.fd) }

// listNode is one item of an entry list, with the children of a folder
// sorted by name.
type listNode struct {
	e        manifest.Entry
	ino      uint64 // its place in the list, so that stats tell items apart
	children []*listNode
}

// listDir is a folder of an offsite backup, built from its entry list.
type listDir struct {
	n   *listNode
	src *listSource
}

// listSource is what every listDir of one restore shares.
type listSource struct {
	ctx context.Context
	o   *UploadsOffsite
}

// errListDamaged wraps what makes an entry list unusable as a source.
var errListDamaged = errors.New("entry list unusable")

// openList builds the tree of an entry list. Every name is a single path
// component and every parent a folder listed before it, so the walk, which
// creates items only relative to open stage folders, cannot be led outside
// the stage by the list.
func openList(ctx context.Context, o *UploadsOffsite) (listDir, *unix.Stat_t, error) {
	r := manifest.NewReader(bytes.NewReader(o.List))
	dirs := map[string]*listNode{}
	var root *listNode
	for i := uint64(1); ; i++ {
		e, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return listDir{}, nil, fmt.Errorf("%w: %v", errListDamaged, err)
		}
		n := &listNode{e: e, ino: i}
		switch e.Type {
		case manifest.TypeDir, manifest.TypeFile, manifest.TypeSymlink:
		default:
			return listDir{}, nil, fmt.Errorf("%w: %q has type %q", errListDamaged, e.Path, e.Type)
		}
		if _, err := listMode(e); err != nil {
			return listDir{}, nil, err
		}
		if root == nil {
			if e.Path != "." || e.Type != manifest.TypeDir {
				return listDir{}, nil, fmt.Errorf("%w: it does not start with the root folder", errListDamaged)
			}
			root = n
			dirs["."] = n
			continue
		}
		if e.Path == "." || e.Path != path.Clean(e.Path) || strings.HasPrefix(e.Path, "/") || strings.HasPrefix(e.Path, "../") ||
			strings.ContainsRune(e.Path, 0) {
			return listDir{}, nil, fmt.Errorf("%w: %q is not a path inside the uploads", errListDamaged, e.Path)
		}
		parent := dirs[path.Dir(e.Path)]
		if parent == nil {
			return listDir{}, nil, fmt.Errorf("%w: %q comes without its folder before it", errListDamaged, e.Path)
		}
		if base := path.Base(e.Path); base == ".." {
			return listDir{}, nil, fmt.Errorf("%w: %q is not a path inside the uploads", errListDamaged, e.Path)
		}
		parent.children = append(parent.children, n)
		if e.Type == manifest.TypeDir {
			if dirs[e.Path] != nil {
				return listDir{}, nil, fmt.Errorf("%w: %q is listed twice", errListDamaged, e.Path)
			}
			dirs[e.Path] = n
		}
	}
	if root == nil {
		return listDir{}, nil, fmt.Errorf("%w: it is empty", errListDamaged)
	}
	for _, d := range dirs {
		slices.SortFunc(d.children, func(a, b *listNode) int { return strings.Compare(path.Base(a.e.Path), path.Base(b.e.Path)) })
		for i := 1; i < len(d.children); i++ {
			if path.Base(d.children[i].e.Path) == path.Base(d.children[i-1].e.Path) {
				return listDir{}, nil, fmt.Errorf("%w: %q is listed twice", errListDamaged, d.children[i].e.Path)
			}
		}
	}
	var st unix.Stat_t
	root.stat(&st)
	return listDir{n: root, src: &listSource{ctx: ctx, o: o}}, &st, nil
}

// listMode is the mode bits of an entry.
func listMode(e manifest.Entry) (uint32, error) {
	m, err := strconv.ParseUint(e.Mode, 8, 32)
	if err != nil || m&^0o7777 != 0 {
		return 0, fmt.Errorf("%w: %q has mode %q", errListDamaged, e.Path, e.Mode)
	}
	return uint32(m), nil
}

// stat fills st as a stat of the item the entry records would be.
func (n *listNode) stat(st *unix.Stat_t) {
	e := n.e
	m, _ := listMode(e) // checked by openList
	*st = unix.Stat_t{Ino: n.ino, Uid: uint32(e.UID), Gid: uint32(e.GID), Nlink: 1}
	switch e.Type {
	case manifest.TypeDir:
		st.Mode = unix.S_IFDIR | m
	case manifest.TypeFile:
		st.Mode = unix.S_IFREG | m
		st.Size = e.Size
	case manifest.TypeSymlink:
		st.Mode = unix.S_IFLNK | m
		st.Size = int64(len(e.Target))
	}
	st.Mtim = unix.Timespec{Sec: e.MTime.Sec, Nsec: e.MTime.Nsec}
	st.Atim = st.Mtim // the list has no atime
}

func (d listDir) child(name string) *listNode {
	i, ok := slices.BinarySearchFunc(d.n.children, name, func(c *listNode, name string) int {
		return strings.Compare(path.Base(c.e.Path), name)
	})
	if !ok {
		return nil
	}
	return d.n.children[i]
}

type sliceIter struct{ names []string }

func (s *sliceIter) Batch(n int) []string {
	n = min(n, len(s.names))
	b := s.names[:n]
	s.names = s.names[n:]
	return b
}
func (s *sliceIter) Err() error   { return nil }
func (s *sliceIter) Close() error { return nil }

func (d listDir) names(string) (uploadsNameIter, error) {
	names := make([]string, len(d.n.children))
	for i, c := range d.n.children {
		names[i] = path.Base(c.e.Path)
	}
	return &sliceIter{names: names}, nil
}

func (d listDir) stat(name string, st *unix.Stat_t) error {
	c := d.child(name)
	if c == nil {
		return unix.ENOENT
	}
	c.stat(st)
	return nil
}

func (d listDir) sub(name string) (uploadsDir, error) {
	c := d.child(name)
	if c == nil || c.e.Type != manifest.TypeDir {
		return nil, unix.ENOTDIR
	}
	return listDir{n: c, src: d.src}, nil
}

func (d listDir) readlink(name string) (string, error) {
	c := d.child(name)
	if c == nil || c.e.Type != manifest.TypeSymlink {
		return "", unix.EINVAL
	}
	return c.e.Target, nil
}

// copyFile downloads the file's content into the stage.
func (d listDir) copyFile(w *uploadsWalk, rel, name string, sfd int, st *unix.Stat_t) (*unix.Stat_t, int64, string, error) {
	c := d.child(name)
	if c == nil || c.e.Type != manifest.TypeFile {
		return nil, 0, "", fmt.Errorf("%q is not a file in the entry list", rel)
	}
	from := d.src.o.Where
	in, err := d.src.o.Open(d.src.ctx, c.e.SHA256)
	if err != nil {
		if cerr := w.u.checkCtx(rel); cerr != nil {
			return nil, 0, "", cerr
		}
		return nil, 0, "", fmt.Errorf("download %q from %s: %w", rel, from, err)
	}
	defer in.Close()
	n, sum, err := w.writeStaged(rel, in, sfd, name, from, st)
	return st, n, sum, err
}

func (d listDir) close() {}
