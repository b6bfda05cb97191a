package offsite

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/directus-backup/directus-backup/internal/offsite/s3store"
)

// Pushes and prunes announce themselves with lock objects, so that a prune
// never deletes an object that a running push has found in the bucket and
// decided not to send again. Each writes its lock, then reads the others':
// with S3's read-after-write consistency at least one of two that start
// together sees the other. A push waits for a running prune; a prune
// finding a running push deletes no data objects. Pushing needs no delete
// right: a push overwrites its lock with done=true, and prune removes
// finished and stale locks.
const (
	lockRefresh = 5 * time.Minute
	lockStale   = 15 * time.Minute
	pruneWait   = 10 * time.Minute
)

type lockBody struct {
	Kind      string    `json:"kind"` // push or prune
	ID        string    `json:"id"`
	Host      string    `json:"host"`
	PID       int       `json:"pid"`
	Started   time.Time `json:"started"`
	Refreshed time.Time `json:"refreshed"`
	Done      bool      `json:"done"`
}

// heldLock is a lock object this process keeps fresh.
type heldLock struct {
	r      *Remote
	body   lockBody
	key    string
	stop   chan struct{}
	once   sync.Once // release runs once
	wg     sync.WaitGroup
	mu     sync.Mutex
	failed bool      // a refresh failed, or came late: others may have thought us gone
	lastOK time.Time // of the last successful write (this host's monotonic clock)
}

func newID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// takeLock writes a lock object and keeps refreshing it until release.
func (r *Remote) takeLock(ctx context.Context, kind string) (*heldLock, error) {
	host, _ := os.Hostname()
	now := r.now().UTC()
	l := &heldLock{r: r, body: lockBody{Kind: kind, ID: newID(), Host: host, PID: os.Getpid(), Started: now, Refreshed: now},
		stop: make(chan struct{})}
	l.key = lockKey(kind, l.body.ID)
	if err := l.write(ctx); err != nil {
		return nil, fmt.Errorf("write the %s lock: %w", kind, err)
	}
	l.lastOK = time.Now()
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		t := time.NewTicker(lockRefresh)
		defer t.Stop()
		for {
			select {
			case <-l.stop:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				l.body.Refreshed = r.now().UTC()
				err := l.write(ctx)
				l.mu.Lock()
				// A refresh that comes too late (the process was
				// suspended, the network hung) is as bad as none.
				if err != nil || time.Since(l.lastOK) > lockStale-lockRefresh {
					l.failed = true
				}
				if err == nil {
					l.lastOK = time.Now()
				}
				l.mu.Unlock()
				if err != nil {
					r.log().Warn("could not refresh the offsite lock", "err", err)
				}
			}
		}
	}()
	return l, nil
}

func (l *heldLock) write(ctx context.Context) error {
	data, _ := json.Marshal(l.body)
	return l.r.Store.Put(ctx, l.key, strings.NewReader(string(data)), int64(len(data)), s3store.PutOptions{})
}

// refreshFailed reports whether others may have taken the lock for stale
// at some point: a refresh failed or came late, or none came for too long.
func (l *heldLock) refreshFailed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.failed || time.Since(l.lastOK) > lockStale-lockRefresh
}

// release marks a push lock done (no delete right needed) or deletes a
// prune lock (prune has the right).
func (l *heldLock) release(ctx context.Context) error {
	released := true
	l.once.Do(func() { released = false })
	if released {
		return nil
	}
	close(l.stop)
	l.wg.Wait()
	// The run's context may be cancelled; the lock should still be let go.
	ctx = context.WithoutCancel(ctx)
	if l.body.Kind == "prune" {
		if err := l.r.Store.Remove(ctx, l.key); err == nil {
			return nil
		}
		// A key that may not delete (prune run with the backup host's
		// key): mark it done, so pushes do not wait for it.
	}
	l.body.Done = true
	l.body.Refreshed = l.r.now().UTC()
	return l.write(ctx)
}

// liveLock is another run's lock that is not done and not stale.
type liveLock struct {
	Key  string
	Body lockBody
}

// liveLocks returns the live locks of kind other than own. Staleness is
// judged in the server's time: the LastModified of own (written by this
// run moments or at most lockRefresh ago) stands for "now" when it is
// listed, so a clock that runs ahead on this host does not make a running
// push look stale. A lock that cannot be read, but for one deleted
// meanwhile, counts as live.
func (r *Remote) liveLocks(ctx context.Context, kind, own string) ([]liveLock, error) {
	var objs []s3store.Object
	now := r.now()
	for o, err := range r.Store.List(ctx, locksDir) {
		if err != nil {
			return nil, err
		}
		if o.Key == own {
			now = o.LastModified
			continue
		}
		if strings.HasPrefix(o.Key, locksDir+kind+"-") {
			objs = append(objs, o)
		}
	}
	var out []liveLock
	for _, o := range objs {
		if now.Sub(o.LastModified) > lockStale {
			continue
		}
		data, err := r.Store.ReadAll(ctx, o.Key)
		if errors.Is(err, s3store.ErrNotFound) {
			continue // released meanwhile
		}
		var b lockBody
		switch {
		case err != nil:
			b = lockBody{Kind: kind, Host: "unknown (the lock could not be read: " + err.Error() + ")"}
		case json.Unmarshal(data, &b) != nil:
			b = lockBody{Kind: kind, Host: "unknown (the lock is not readable JSON)"}
		case b.Done:
			continue
		}
		out = append(out, liveLock{Key: o.Key, Body: b})
	}
	return out, nil
}

func (b lockBody) String() string {
	return fmt.Sprintf("%s on %s (pid %d) since %s", b.Kind, b.Host, b.PID, b.Started.Format(time.RFC3339))
}
