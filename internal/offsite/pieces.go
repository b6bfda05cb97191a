package offsite

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/directus-backup/directus-backup/internal/chunked"
	"github.com/directus-backup/directus-backup/internal/regfile"
	"github.com/directus-backup/directus-backup/internal/repo"
	"github.com/restic/chunker"
)

// eachDumpPiece reads the backup's dump in pieces: the members its chunk
// list names when it has a trustworthy one, else content-defined pieces of
// the file. It returns the SHA-256 of the whole file. fn returning false
// stops the reading.
func (r *Remote) eachDumpPiece(b repo.Backup, fn func(off int64, piece []byte) bool) (string, error) {
	m := b.Manifest
	f, err := regfile.Open(filepath.Join(b.Path, m.Database.File))
	if err != nil {
		return "", fmt.Errorf("open the dump: %w", err)
	}
	defer f.Close()
	whole := sha256.New()
	src := io.TeeReader(f, whole)
	stopped := errors.New("stopped")
	var off int64
	useList := false
	if c := m.Database.Chunks; c != nil {
		if _, t, err := chunked.ReadListFile(repo.ChunksIn(b.Path)); err == nil && t.SHA256 == c.ListSHA256 && t.Bytes == m.Database.Bytes {
			useList = true
		} else {
			r.log().Warn("the dump's chunk list does not match its manifest; the dump is cut afresh (run verify)", "backup", b.Name)
		}
	}
	if useList {
		lf, err := regfile.Open(repo.ChunksIn(b.Path))
		if err != nil {
			return "", err
		}
		defer lf.Close()
		buf := make([]byte, 0, 1<<20)
		_, err = chunked.EachInList(lf, func(c chunked.Chunk) error {
			if cap(buf) < int(c.Size) {
				buf = make([]byte, c.Size)
			}
			buf = buf[:c.Size]
			if _, err := io.ReadFull(src, buf); err != nil {
				return fmt.Errorf("read the dump: %w", err)
			}
			if !fn(off, buf) {
				return stopped
			}
			off += c.Size
			return nil
		})
		if err == stopped {
			return "", context.Canceled
		}
		if err != nil {
			return "", err
		}
	} else {
		ch := chunker.New(src, chunked.Pol)
		buf := make([]byte, chunker.MaxSize)
		for {
			c, err := ch.Next(buf)
			if err == io.EOF {
				break
			}
			if err != nil {
				return "", fmt.Errorf("read the dump: %w", err)
			}
			if !fn(off, c.Data) {
				return "", context.Canceled
			}
			off += int64(c.Length)
		}
	}
	// Anything past the pieces still counts towards the file's hash.
	if n, err := io.Copy(io.Discard, src); err != nil {
		return "", err
	} else if n > 0 {
		return "", fmt.Errorf("%s: %w (it is longer than its chunk list): run verify", m.Database.File, ErrChanged)
	}
	return hex.EncodeToString(whole.Sum(nil)), nil
}
