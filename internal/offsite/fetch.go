package offsite

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/directus-backup/directus-backup/internal/manifest"
	"github.com/directus-backup/directus-backup/internal/offsite/seal"
	"github.com/directus-backup/directus-backup/internal/repo"
)

// Copy is one backup in the bucket, opened for reading: its manifest and
// the map from content to object. Reading data needs the identity when the
// copy is sealed.
type Copy struct {
	r        *Remote
	Index    *Index
	Manifest *manifest.Manifest
	// FilesList and ChunksList are the backup's manifest.files.jsonl and
	// manifest.chunks.jsonl, as the local backup had them (ChunksList nil
	// when it had none).
	FilesList  []byte
	ChunksList []byte
	// Lists are the entry lists of the other files folders (storage/<name>,
	// extensions), by folder, each checked against the manifest.
	Lists map[string][]byte
	dump  []objectLine
	files map[string]objectLine // by SHA-256
}

// Open reads a backup's index and meta objects. backup "" or "latest" is
// the newest complete backup in the bucket.
func (r *Remote) Open(ctx context.Context, backup string) (*Copy, error) {
	if backup == "" || backup == "latest" {
		l, err := r.list(ctx, false)
		if err != nil {
			return nil, err
		}
		if len(l.Backups) == 0 {
			return nil, fmt.Errorf("%w: the bucket %s holds no complete backup", ErrNoBackup, r.Store.Where())
		}
		backup = l.Backups[len(l.Backups)-1]
	}
	if !validBackupName(backup) {
		return nil, fmt.Errorf("%w: %q is not a backup name", ErrNoBackup, backup)
	}
	ix, err := r.readIndex(ctx, backup)
	if err != nil {
		if isNotFound(err) {
			return nil, fmt.Errorf("%w: %s (see offsite list)", ErrNoBackup, backup)
		}
		return nil, err
	}
	if ix.Encrypted && (r.Opener == nil || !r.Opener.CanOpen()) {
		return nil, seal.ErrNoIdentity
	}
	// A plain copy where the settings say copies are encrypted was not
	// pushed by this setup: anyone with a key that may write the bucket
	// could have planted it (and named it the newest).
	if !ix.Encrypted && (r.Sealer.Encrypted() || (r.Opener != nil && r.Opener.CanOpen())) {
		return nil, fmt.Errorf("%w: offsite backup %s is stored unencrypted, but BACKUP_AGE_RECIPIENTS or BACKUP_AGE_IDENTITY_FILE say the copies are encrypted: it was not pushed with these settings, and may have been planted; to read it anyway, unset both", ErrUntrusted, backup)
	}
	c := &Copy{r: r, Index: ix, files: map[string]objectLine{}}
	data, err := r.readMeta(ctx, ix, metaManifest)
	if err != nil {
		return nil, err
	}
	var m manifest.Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("offsite backup %s: manifest.json: %w", backup, err)
	}
	c.Manifest = &m
	if err := c.readLists(ctx); err != nil {
		return nil, err
	}
	if m.Database.Chunks != nil {
		if c.ChunksList, err = r.readMeta(ctx, ix, metaChunks); err != nil {
			return nil, err
		}
	}
	data, err = r.readMeta(ctx, ix, metaObjects)
	if err != nil {
		return nil, err
	}
	lines, err := decodeObjects(data)
	if err != nil {
		return nil, fmt.Errorf("offsite backup %s: %w", backup, err)
	}
	var off int64
	for _, l := range lines {
		switch l.Kind {
		case kindDump:
			if l.Offset != off {
				return nil, fmt.Errorf("%w: offsite backup %s: objects.jsonl: the dump's pieces do not follow each other: restore an older backup", ErrObjectDamaged, backup)
			}
			off += l.Size
			c.dump = append(c.dump, l)
		case kindFile:
			c.files[l.SHA256] = l
		}
	}
	if off != m.Database.Bytes {
		return nil, fmt.Errorf("%w: offsite backup %s: objects.jsonl: the dump's pieces add up to %d bytes, the manifest says %d: restore an older backup", ErrObjectDamaged, backup, off, m.Database.Bytes)
	}
	return c, nil
}

// readLists reads the entry list of every files folder the manifest names
// and checks each against it.
func (c *Copy) readLists(ctx context.Context) error {
	m, ix := c.Manifest, c.Index
	check := func(what string, data []byte, want string) error {
		if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != want {
			return fmt.Errorf("%w: offsite backup %s: the entry list of %s does not match its manifest: run offsite verify --read-data, or restore an older backup", ErrObjectDamaged, ix.Backup, what)
		}
		return nil
	}
	if m.HasUploads() {
		var err error
		if c.FilesList, err = c.r.readMeta(ctx, ix, metaFiles); err != nil {
			return err
		}
		if err := check(repo.BackupUploadsName, c.FilesList, m.Uploads.ListSHA256); err != nil {
			return err
		}
	}
	views, err := otherAreas(repo.Backup{Name: ix.Backup, Manifest: m})
	if err != nil {
		return fmt.Errorf("offsite backup %s: %w", ix.Backup, err)
	}
	c.Lists = map[string][]byte{}
	for _, v := range views {
		_, name, err := v.ListPath()
		if err != nil {
			return fmt.Errorf("offsite backup %s: %s: %w", ix.Backup, v.FilesFolder(), err)
		}
		if _, ok := ix.Meta[name]; !ok {
			// Pushed by a version that left the extensions local: a
			// restore of that folder is refused (Lists lacks it).
			continue
		}
		data, err := c.r.readMeta(ctx, ix, name)
		if err != nil {
			return err
		}
		if err := check(v.FilesFolder(), data, v.Manifest.Uploads.ListSHA256); err != nil {
			return err
		}
		c.Lists[v.FilesFolder()] = data
	}
	return nil
}

func isNotFound(err error) bool {
	return errors.Is(err, errNotFound)
}

// openObject downloads and opens one data object, checking on the way that
// its plaintext has the recorded SHA-256 and size: the last read returns
// an error instead of io.EOF when it does not.
func (c *Copy) openObject(ctx context.Context, l objectLine) (io.ReadCloser, error) {
	rc, err := c.r.Store.Get(ctx, dataKey(l.Name))
	if err != nil {
		return nil, err
	}
	opener := c.r.Opener
	if opener == nil {
		opener = &noOpener
	}
	pr, err := opener.Open(rc, c.Index.Encrypted)
	if err != nil {
		rc.Close()
		return nil, fmt.Errorf("object %s: %w", l.Name, err)
	}
	return &verifyingReader{r: pr, c: rc, h: sha256.New(), want: l.SHA256, left: l.Size, name: l.Name}, nil
}

// OpenFile opens the content of an uploads file by its SHA-256.
func (c *Copy) OpenFile(ctx context.Context, sum string) (io.ReadCloser, error) {
	l, ok := c.files[sum]
	if !ok {
		return nil, fmt.Errorf("offsite backup %s holds no object for content %s", c.Index.Backup, sum)
	}
	return c.openObject(ctx, l)
}

// Dump returns the compressed dump file, byte for byte as the local backup
// held it, from its pieces: downloaded up to jobs at a time ahead of the
// reader, each checked against its SHA-256.
func (c *Copy) Dump(ctx context.Context) io.ReadCloser {
	ctx, cancel := context.WithCancel(ctx)
	jobs := c.r.jobs()
	type result struct {
		data []byte
		err  error
	}
	order := make(chan chan result, jobs)
	go func() {
		defer close(order)
		for _, l := range c.dump {
			ch := make(chan result, 1)
			select {
			case order <- ch:
			case <-ctx.Done():
				return
			}
			go func() {
				rc, err := c.openObject(ctx, l)
				if err != nil {
					ch <- result{err: err}
					return
				}
				defer rc.Close()
				data, err := io.ReadAll(rc)
				ch <- result{data: data, err: err}
			}()
		}
	}()
	pr, pw := io.Pipe()
	go func() {
		var err error
		for ch := range order {
			res := <-ch
			if err == nil && res.err != nil {
				err = res.err
				cancel()
			}
			if err == nil {
				_, err = pw.Write(res.data)
				if err != nil {
					cancel()
				}
			}
		}
		if err == nil && ctx.Err() != nil {
			err = ctx.Err()
		}
		pw.CloseWithError(err)
	}()
	return &dumpReader{PipeReader: pr, cancel: cancel}
}

type dumpReader struct {
	*io.PipeReader
	cancel context.CancelFunc
}

func (d *dumpReader) Close() error {
	d.cancel()
	return d.PipeReader.Close()
}

// DumpPieces returns how many objects the dump is stored in.
func (c *Copy) DumpPieces() int { return len(c.dump) }

// verifyingReader checks an object's plaintext as it is read.
type verifyingReader struct {
	r io.Reader
	c io.Closer
	h interface {
		Write([]byte) (int, error)
		Sum([]byte) []byte
	}
	want string
	left int64
	name string
}

// ErrUntrusted matches a copy that these settings did not push.
var ErrUntrusted = errors.New("offsite copy not trusted")

// ErrObjectDamaged matches an object whose content is not what its backup
// recorded.
var ErrObjectDamaged = errors.New("offsite object damaged")

func (v *verifyingReader) Read(p []byte) (int, error) {
	n, err := v.r.Read(p)
	v.h.Write(p[:n])
	v.left -= int64(n)
	if v.left < 0 {
		return n, fmt.Errorf("%w: object %s is longer than recorded", ErrObjectDamaged, v.name)
	}
	if err == io.EOF {
		if v.left != 0 {
			return n, fmt.Errorf("%w: object %s is shorter than recorded", ErrObjectDamaged, v.name)
		}
		if hex.EncodeToString(v.h.Sum(nil)) != v.want {
			return n, fmt.Errorf("%w: object %s does not have the recorded SHA-256", ErrObjectDamaged, v.name)
		}
	}
	return n, err
}

func (v *verifyingReader) Close() error { return v.c.Close() }
