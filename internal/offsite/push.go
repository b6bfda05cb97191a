package offsite

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/directus-backup/directus-backup/internal/exitcode"
	"github.com/directus-backup/directus-backup/internal/manifest"
	"github.com/directus-backup/directus-backup/internal/offsite/s3store"
	"github.com/directus-backup/directus-backup/internal/regfile"
	"github.com/directus-backup/directus-backup/internal/repo"
	"github.com/directus-backup/directus-backup/internal/retention"
)

// PushRequest says which local backups to push.
type PushRequest struct {
	BackupsDir string
	// Backup is a backup folder name or path; "" or "latest" is the
	// newest complete backup. Ignored with All.
	Backup string
	// All pushes every complete local backup that the bucket lacks, oldest
	// first.
	All bool
	// Progress, when set, is called about four times a second.
	Progress func(Progress)
}

// Progress is how far a push has come.
type Progress struct {
	Backup    string
	ReadBytes int64 // local bytes read (sent or found already stored)
	Total     int64 // local bytes of the backup
	SentBytes int64
}

// PushReport says what a push did.
type PushReport struct {
	Where          string       `json:"where"`
	Encrypted      bool         `json:"encrypted"`
	Backups        []BackupPush `json:"backups"`
	ObjectsSent    int64        `json:"objects_sent"`
	BytesSent      int64        `json:"bytes_sent"`
	ObjectsSkipped int64        `json:"objects_skipped"`
	BytesSkipped   int64        `json:"bytes_skipped"`
	Extended       int64        `json:"retention_extended"` // objects whose object lock retention was extended
	Seconds        float64      `json:"seconds"`
}

// BackupPush is one backup's share of a push.
type BackupPush struct {
	Backup  string `json:"backup"`
	Already bool   `json:"already"`           // the bucket had it: nothing sent
	Skipped string `json:"skipped,omitempty"` // why it was not pushed
	// Data objects this backup references, and those sent now.
	Objects        int64 `json:"objects"`
	ObjectsSent    int64 `json:"objects_sent"`
	BytesSent      int64 `json:"bytes_sent"` // stored bytes of the objects sent, meta objects included
	ObjectsSkipped int64 `json:"objects_skipped"`
	BytesSkipped   int64 `json:"bytes_skipped"`
	// The dump: its size, how many pieces, and how much of it was sent.
	DumpBytes      int64   `json:"dump_bytes"`
	DumpPieces     int64   `json:"dump_pieces"`
	DumpPiecesSent int64   `json:"dump_pieces_sent"`
	DumpBytesSent  int64   `json:"dump_bytes_sent"` // plaintext bytes of the pieces sent
	Files          int64   `json:"files"`
	FilesSent      int64   `json:"files_sent"`
	FileBytesSent  int64   `json:"file_bytes_sent"`
	MetaBytes      int64   `json:"meta_bytes"`
	Extended       int64   `json:"retention_extended,omitempty"` // objects found stored whose retention was extended
	Seconds        float64 `json:"seconds"`
}

// ErrLegacy is why a backup made by the original backup.sh is not pushed.
var ErrLegacy = errors.New("made by the original backup.sh: it has no manifest with checksums; it is not pushed")

// Push copies local backups to the bucket. Objects already there are not
// sent again. A backup becomes visible in the bucket (its index) only after
// everything it references is stored.
func (r *Remote) Push(ctx context.Context, req PushRequest) (PushReport, error) {
	start := r.now()
	rep := PushReport{Where: r.Store.Where(), Encrypted: r.Sealer.Encrypted()}
	done := func(err error) (PushReport, error) {
		rep.Seconds = r.now().Sub(start).Seconds()
		return rep, err
	}
	if _, err := repo.Pick(req.BackupsDir, req.Backup); err != nil && !req.All {
		return done(err)
	}
	if r.LockDays > 0 {
		on, err := r.Store.ObjectLock(ctx)
		if err != nil {
			return done(err)
		}
		if !on {
			return done(fmt.Errorf("BACKUP_S3_OBJECT_LOCK_DAYS=%d, but the bucket %s has no object lock: create a bucket with object lock enabled, or set BACKUP_S3_OBJECT_LOCK_DAYS=0", r.LockDays, r.Store.Where()))
		}
	}
	// The local backups must not be pruned while they are read.
	rl, err := repo.ReadBackups(ctx, req.BackupsDir, r.log())
	if err != nil {
		return done(err)
	}
	defer rl.Release()

	lock, err := r.takeLock(ctx, "push")
	if err != nil {
		return done(err)
	}
	defer func() {
		if err := lock.release(ctx); err != nil {
			r.log().Warn("could not mark the offsite push lock done; prune will treat it as stale in 15 minutes", "err", err)
		}
	}()
	if err := r.waitForPrune(ctx, lock.key); err != nil {
		return done(err)
	}

	var todo []repo.Backup
	if req.All {
		all, err := repo.List(req.BackupsDir)
		if err != nil {
			return done(err)
		}
		for _, b := range all {
			if b.Usable() {
				todo = append(todo, b)
			}
		}
		// Oldest first: the newest is the last to become visible.
		slices.SortStableFunc(todo, func(a, b repo.Backup) int { return a.Time.Compare(b.Time) })
	} else {
		b, err := repo.Pick(req.BackupsDir, req.Backup)
		if err != nil {
			return done(err)
		}
		todo = []repo.Backup{b}
	}

	l, err := r.list(ctx, true)
	if err != nil {
		return done(err)
	}
	inBucket := map[string]bool{}
	for _, b := range l.Backups {
		inBucket[b] = true
	}
	var prev *Index // the newest index, for retention bookkeeping
	if n := len(l.Backups); n > 0 {
		if prev, err = r.readIndex(ctx, l.Backups[n-1]); err != nil {
			r.log().Warn("could not read the newest offsite index", "backup", l.Backups[n-1], "err", err)
			prev = nil
		}
	}
	if req.All {
		todo = r.worthPushing(todo, l.Backups)
	}
	// A backup newer than backup_latest failed BACKUP_VERIFY (or is being
	// published): --all does not make it the newest copy offsite.
	var latest time.Time
	if req.All {
		if name, ok := repo.Latest(req.BackupsDir); ok {
			latest, _ = repo.ParseName(name)
		}
	}
	pushed := map[string]*Index{}
	var damaged []string
	for _, b := range todo {
		bp := BackupPush{Backup: b.Name}
		switch {
		case inBucket[b.Name]:
			bp.Already = true
		case !latest.IsZero() && b.Time.After(latest):
			bp.Skipped = "newer than backup_latest (it failed BACKUP_VERIFY, or is not published yet)"
			r.log().Warn("not pushed", "backup", b.Name, "reason", bp.Skipped)
		case b.State == repo.Legacy && !req.All:
			return done(exitcode.With(exitcode.Usage, fmt.Errorf("%s was %w", b.Name, ErrLegacy)))
		case b.State == repo.Legacy:
			bp.Skipped = ErrLegacy.Error()
			r.log().Info("not pushed", "backup", b.Name, "reason", ErrLegacy)
		default:
			ix, err := r.pushOne(ctx, b, l, prev, lock, &bp, req.Progress)
			if err != nil && req.All && isLocal(err) && ctx.Err() == nil {
				// This backup's own files are damaged: the others are
				// still worth pushing.
				bp.Skipped = "damaged here, not pushed: " + err.Error()
				r.log().Error("not pushed: the local backup is damaged; run verify", "backup", b.Name, "err", err)
				damaged = append(damaged, b.Name)
				rep.add(bp)
				continue
			}
			rep.add(bp)
			if err != nil {
				return done(fmt.Errorf("push %s: %w", b.Name, err))
			}
			inBucket[b.Name] = true
			prev, pushed[b.Name] = ix, ix
			continue
		}
		rep.add(bp)
	}
	// The newest backup in the bucket stays locked for LockDays from now,
	// however old its objects are.
	if r.LockDays > 0 {
		names := append([]string{}, l.Backups...)
		for n := range pushed {
			names = append(names, n)
		}
		sortBackups(names)
		var newest *Index
		if len(names) > 0 {
			last := names[len(names)-1]
			if newest = pushed[last]; newest == nil {
				if newest, err = r.readIndex(ctx, last); err != nil {
					return done(err)
				}
			}
		}
		if newest != nil && newest.RetainUntil.Before(r.lockNeeded()) {
			n, err := r.extend(ctx, newest, nil, nil)
			rep.Extended += n
			if err != nil {
				return done(err)
			}
			// Record the new retention, so that the next push need not ask.
			if _, err := r.writeIndex(ctx, newest); err != nil {
				return done(err)
			}
		}
	}
	if len(damaged) > 0 {
		return done(fmt.Errorf("%d local backups are damaged and were not pushed (%s): run directus-backup verify; the others were pushed",
			len(damaged), strings.Join(damaged, ", ")))
	}
	return done(nil)
}

// isLocal reports whether a push failed because of the local backup (a
// file missing, unreadable or not matching its manifest), not the bucket.
func isLocal(err error) bool {
	var se *s3store.Error
	if errors.As(err, &se) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var pe *fs.PathError
	return errors.Is(err, ErrChanged) || errors.Is(err, regfile.ErrNotRegular) || errors.As(err, &pe)
}

func (rep *PushReport) add(bp BackupPush) {
	rep.Backups = append(rep.Backups, bp)
	rep.ObjectsSent += bp.ObjectsSent
	rep.BytesSent += bp.BytesSent
	rep.ObjectsSkipped += bp.ObjectsSkipped
	rep.BytesSkipped += bp.BytesSkipped
	rep.Extended += bp.Extended
}

// worthPushing drops the local backups the offsite retention would remove
// right away, counted together with those in the bucket: pushing them
// would only make work for the next prune.
func (r *Remote) worthPushing(local []repo.Backup, inBucket []string) []repo.Backup {
	if r.Retention.Days == 0 && r.Retention.Count == 0 {
		return local
	}
	seen := map[string]bool{}
	var items []retention.Item
	for _, n := range inBucket {
		seen[n] = true
		items = append(items, retention.Item{Name: n, Time: backupTime(n)})
	}
	for _, b := range local {
		if !seen[b.Name] {
			items = append(items, retention.Item{Name: b.Name, Time: b.Time})
		}
	}
	keep := map[string]bool{}
	for _, d := range retention.Apply(items, r.Retention, r.now()) {
		keep[d.Name] = d.Keep
	}
	var out []repo.Backup
	for _, b := range local {
		if keep[b.Name] {
			out = append(out, b)
		} else {
			r.log().Debug("not pushed: the offsite retention would remove it", "backup", b.Name)
		}
	}
	return out
}

// waitForPrune waits while another host prunes the bucket.
func (r *Remote) waitForPrune(ctx context.Context, own string) error {
	deadline := r.now().Add(pruneWait)
	logged := false
	for {
		live, err := r.liveLocks(ctx, "prune", own)
		if err != nil {
			return err
		}
		if len(live) == 0 {
			return nil
		}
		if r.now().After(deadline) {
			return fmt.Errorf("an offsite prune is running (%s) and did not finish within %s; push again later", live[0].Body, pruneWait)
		}
		if !logged {
			r.log().Info("waiting for an offsite prune to finish", "prune", live[0].Body.String())
			logged = true
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
}

// lockNeeded is the retention every object of the newest backup needs now.
func (r *Remote) lockNeeded() time.Time {
	return r.now().Add(time.Duration(r.LockDays) * 24 * time.Hour)
}

// lockTarget is the retention set when setting one: a margin past what is
// needed, so that daily pushes do not extend every object every day.
func (r *Remote) lockTarget() time.Time {
	step := max(1, r.LockDays/4)
	return r.lockNeeded().Add(time.Duration(step) * 24 * time.Hour)
}

// pushOne pushes one complete backup.
func (r *Remote) pushOne(ctx context.Context, b repo.Backup, l *Listing, prev *Index, lock *heldLock, bp *BackupPush, progress func(Progress)) (*Index, error) {
	start := r.now()
	defer func() { bp.Seconds = r.now().Sub(start).Seconds() }()
	m := b.Manifest
	log := r.log().With("backup", b.Name)
	log.Info("pushing to the offsite bucket", "where", r.Store.Where())

	ix := &Index{Format: IndexFormat, Tool: "directus-backup", Version: r.Version, Backup: b.Name, Timestamp: m.Timestamp,
		Encrypted: r.Sealer.Encrypted(), Recipients: r.Sealer.Fingerprint(), Meta: map[string]Ref{},
		DumpFile: m.Database.File, DumpBytes: m.Database.Bytes}
	var retain time.Time
	if r.LockDays > 0 {
		retain = r.lockTarget()
	}
	ix.RetainUntil = retain

	var (
		mu       sync.Mutex
		refs     = map[string]int64{} // name -> stored size
		sent     = map[string]bool{}  // names sent by this push
		lines    []objectLine
		prog     Progress
		readB    atomic.Int64
		sentB    atomic.Int64
		firstErr error
	)
	prog.Backup = b.Name
	areas, err := backupAreas(b)
	if err != nil {
		return nil, err
	}
	prog.Total = m.Database.Bytes
	for _, a := range areas {
		prog.Total += a.view.Manifest.Uploads.Bytes
	}
	stopProg := make(chan struct{})
	var progWG sync.WaitGroup
	if progress != nil {
		progWG.Add(1)
		go func() {
			defer progWG.Done()
			t := time.NewTicker(250 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-stopProg:
					return
				case <-t.C:
					progress(Progress{Backup: b.Name, ReadBytes: readB.Load(), Total: prog.Total, SentBytes: sentB.Load()})
				}
			}
		}()
	}
	defer func() { close(stopProg); progWG.Wait() }()

	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
		cancel()
	}
	work := make(chan upload, 2*r.jobs())
	var wg sync.WaitGroup
	for range r.jobs() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for u := range work {
				if cctx.Err() != nil {
					continue
				}
				n, err := r.send(cctx, u, retain)
				if err != nil {
					fail(err)
					continue
				}
				sentB.Add(n)
				mu.Lock()
				refs[u.name] = n
				sent[u.name] = true
				bp.ObjectsSent++
				bp.BytesSent += n
				switch u.kind {
				case kindDump:
					bp.DumpPiecesSent++
					bp.DumpBytesSent += u.size
				case kindFile:
					bp.FilesSent++
					bp.FileBytesSent += u.size
				}
				mu.Unlock()
				readB.Add(u.size)
			}
		}()
	}
	// queued reports whether the object must be sent (and queues it), or
	// records it as already stored.
	queued := map[string]bool{}
	offer := func(u upload) bool {
		mu.Lock()
		if queued[u.name] {
			mu.Unlock()
			readB.Add(u.size)
			return true
		}
		queued[u.name] = true
		o, ok := l.Data[u.name]
		if want, err := r.Sealer.SealedSize(u.size); ok && (err != nil || o.Size != want) {
			// Damaged or cut short in the bucket: send it again.
			r.log().Warn("an object in the bucket has the wrong size; sending it again", "object", u.name, "size", o.Size, "want", want)
			ok = false
		}
		if ok {
			refs[u.name] = o.Size
			bp.ObjectsSkipped++
			bp.BytesSkipped += o.Size
			mu.Unlock()
			readB.Add(u.size)
			return true
		}
		mu.Unlock()
		select {
		case work <- u:
			return true
		case <-cctx.Done():
			return false
		}
	}

	produceErr := func() error {
		// The dump, in pieces.
		dumpSum, err := r.eachDumpPiece(b, func(off int64, piece []byte) bool {
			sum := sha256.Sum256(piece)
			hs := hex.EncodeToString(sum[:])
			name := r.Sealer.Name(hs)
			lines = append(lines, objectLine{Kind: kindDump, Name: name, SHA256: hs, Offset: off, Size: int64(len(piece))})
			bp.DumpPieces++
			// The piece buffer is reused by the reader: hand a copy.
			return offer(upload{name: name, sum: hs, size: int64(len(piece)), data: bytes.Clone(piece), kind: kindDump,
				what: fmt.Sprintf("%s at offset %d", m.Database.File, off)})
		})
		if err != nil {
			return err
		}
		if dumpSum != m.Database.SHA256 {
			return fmt.Errorf("%s: %w (its SHA-256 differs): run verify", m.Database.File, ErrChanged)
		}
		// Every files folder (uploads/, the other storage locations, the
		// extensions), each content once across all of them.
		seen := map[string]bool{}
		for _, a := range areas {
			if err := r.pushArea(cctx, a, &bp.Files, seen, &lines, offer, readB.Add); err != nil {
				return err
			}
		}
		return nil
	}()
	close(work)
	wg.Wait()
	if produceErr != nil && firstErr == nil {
		firstErr = produceErr
	}
	if firstErr != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, firstErr
	}
	// Later backups of this push find these objects stored.
	for n := range sent {
		l.Data[n] = s3store.Object{Key: dataKey(n), Size: refs[n], LastModified: r.now()}
	}
	ix.DumpPieces = bp.DumpPieces
	ix.Files = bp.Files
	for _, a := range areas {
		ix.FileBytes += a.view.Manifest.Uploads.Bytes
		ix.Areas = append(ix.Areas, a.folder)
	}
	bp.DumpBytes = m.Database.Bytes

	// A refresh of our lock failed: a prune may have taken us for gone and
	// deleted an object we found stored. Look again before committing.
	if lock.refreshFailed() {
		l2, err := r.list(ctx, true)
		if err != nil {
			return nil, err
		}
		for _, ln := range lines {
			if _, ok := l2.Data[ln.Name]; !ok {
				return nil, fmt.Errorf("object %s disappeared from the bucket during the push (a prune ran while this push's lock could not be refreshed); push again", ln.Name)
			}
		}
	}

	// Object lock: the objects found stored must be retained as long as the new ones.
	if r.LockDays > 0 {
		ix.Objects = refsOf(refs)
		n, err := r.extend(ctx, ix, prev, sent)
		bp.Extended += n
		if err != nil {
			return nil, err
		}
	}

	// The meta objects, then the index.
	metas := []struct{ meta, path string }{{metaManifest, filepath.Join(b.Path, manifest.FileName)}}
	for _, a := range areas {
		metas = append(metas, struct{ meta, path string }{a.meta, a.list})
	}
	if m.Database.Chunks != nil {
		metas = append(metas, struct{ meta, path string }{metaChunks, repo.ChunksIn(b.Path)})
	}
	for _, mt := range metas {
		data, err := regfile.ReadFile(mt.path)
		if err != nil {
			return nil, err
		}
		if err := r.putMeta(ctx, ix, mt.meta, data, retain, bp); err != nil {
			return nil, err
		}
	}
	if err := r.putMeta(ctx, ix, metaObjects, encodeObjects(lines), retain, bp); err != nil {
		return nil, err
	}
	ix.Objects = refsOf(refs)
	if r.LockDays > 0 {
		// Meta objects and the index are stored with retain; the index
		// records the earliest retention of all it names.
		if ix.RetainUntil.IsZero() || retain.Before(ix.RetainUntil) {
			ix.RetainUntil = retain
		}
	}
	bp.Objects = int64(len(ix.Objects))
	ix.PushedAt = r.now().UTC()
	n, err := r.writeIndex(ctx, ix)
	if err != nil {
		return nil, err
	}
	bp.BytesSent += n
	bp.MetaBytes += n
	log.Info("pushed", "objects_sent", bp.ObjectsSent, "bytes_sent", bp.BytesSent, "objects_skipped", bp.ObjectsSkipped)
	return ix, nil
}

func refsOf(refs map[string]int64) []Ref {
	out := make([]Ref, 0, len(refs))
	for n, s := range refs {
		out = append(out, Ref{Name: n, Size: s})
	}
	slices.SortFunc(out, func(a, b Ref) int {
		if a.Name < b.Name {
			return -1
		}
		if a.Name > b.Name {
			return 1
		}
		return 0
	})
	return out
}

// putMeta seals and stores one meta object of ix's backup.
func (r *Remote) putMeta(ctx context.Context, ix *Index, meta string, data []byte, retain time.Time, bp *BackupPush) error {
	key := metaKey(ix.Backup, meta, r.Sealer.Encrypted())
	sum := sha256.Sum256(data)
	n, err := r.send(ctx, upload{key: key, sum: hex.EncodeToString(sum[:]), size: int64(len(data)), data: data, what: meta}, retain)
	if err != nil {
		return err
	}
	ix.Meta[meta] = Ref{Name: key, Size: n}
	bp.BytesSent += n
	bp.MetaBytes += n
	return nil
}

// area is one files folder of a backup as a push carries it.
type area struct {
	folder string      // inside the backup: uploads, storage/<name>, extensions
	meta   string      // the meta object of its entry list
	list   string      // the local entry list
	view   repo.Backup // repo.Backup.Area's view of it
}

// backupAreas lists the files folders of b: uploads/ (unless the backup
// has none), every other storage location, and the extensions folder.
// Each entry list is its own meta object: files.jsonl for uploads/ (as
// before), the local list's name for the others.
func backupAreas(b repo.Backup) ([]area, error) {
	var out []area
	if b.Manifest.HasUploads() {
		p, _, err := b.ListPath()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", b.FilesFolder(), err)
		}
		out = append(out, area{folder: b.FilesFolder(), meta: metaFiles, list: p, view: b})
	}
	others, err := otherAreas(b)
	if err != nil {
		return nil, err
	}
	for _, v := range others {
		p, name, err := v.ListPath()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", v.FilesFolder(), err)
		}
		out = append(out, area{folder: v.FilesFolder(), meta: name, list: p, view: v})
	}
	return out, nil
}

// otherAreas returns a view (repo.Backup.Area) of each files folder of b
// besides uploads/: the other storage locations, then the extensions.
func otherAreas(b repo.Backup) ([]repo.Backup, error) {
	m := b.Manifest
	var views []repo.Backup
	for _, l := range m.Storage {
		v, err := b.Area(l.Name, false)
		if err != nil {
			return nil, err
		}
		views = append(views, v)
	}
	if m.Extensions != nil {
		v, err := b.Area(repo.ExtensionsName, true)
		if err != nil {
			return nil, err
		}
		views = append(views, v)
	}
	return views, nil
}

// pushArea offers the files of one area's entry list, each content once
// across the backup (seen), and checks the list against the manifest.
func (r *Remote) pushArea(ctx context.Context, a area, files *int64, seen map[string]bool, lines *[]objectLine, offer func(upload) bool, read func(int64) int64) error {
	f, err := regfile.Open(a.list)
	if err != nil {
		return fmt.Errorf("read the entry list of %s: %w", a.folder, err)
	}
	defer f.Close()
	h := sha256.New()
	rd := manifest.NewReader(io.TeeReader(f, h))
	for {
		e, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("read the entry list of %s: %w", a.folder, err)
		}
		if e.Type != manifest.TypeFile {
			continue
		}
		*files++
		if seen[e.SHA256] {
			read(e.Size)
			continue
		}
		seen[e.SHA256] = true
		name := r.Sealer.Name(e.SHA256)
		*lines = append(*lines, objectLine{Kind: kindFile, Name: name, SHA256: e.SHA256, Size: e.Size})
		p := filepath.Join(a.view.UploadsPath(), filepath.FromSlash(e.Path))
		if !offer(upload{name: name, sum: e.SHA256, size: e.Size, path: p, kind: kindFile, what: a.view.FilesRel(e.Path)}) {
			return ctx.Err()
		}
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != a.view.Manifest.Uploads.ListSHA256 {
		return fmt.Errorf("the entry list of %s: %w (its SHA-256 differs from manifest.json): run verify", a.folder, ErrChanged)
	}
	return nil
}
