package dumpscan

import (
	"crypto/sha256"
	"encoding/hex"
	"hash"

	"github.com/directus-backup/directus-backup/internal/capbuf"
)

// Summary records a plain dump stream as it is written: its SHA-256, its
// size, and its end, for the completion check. Backup and verify both
// judge a dump by these.
type Summary struct {
	h    hash.Hash
	n    int64
	tail capbuf.Tail
}

// NewSummary returns an empty Summary.
func NewSummary() *Summary {
	return &Summary{h: sha256.New(), tail: capbuf.Tail{Max: TailSize}}
}

func (s *Summary) Write(p []byte) (int, error) {
	s.h.Write(p)
	s.n += int64(len(p))
	s.tail.Write(p)
	return len(p), nil
}

// Bytes is the size of the stream so far.
func (s *Summary) Bytes() int64 { return s.n }

// SHA256 is the hex SHA-256 of the stream so far.
func (s *Summary) SHA256() string { return hex.EncodeToString(s.h.Sum(nil)) }

// Complete reports whether the stream ends with pg_dump's completion line.
func (s *Summary) Complete() bool { return EndsComplete(s.tail.Bytes()) }
