package offsite

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
)

// objectLine is one line of objects.jsonl: which object holds which content.
type objectLine struct {
	Kind   string `json:"k"` // "dump" (in order) or "file"
	Name   string `json:"n"` // data object name
	SHA256 string `json:"h"` // of the plaintext
	Offset int64  `json:"o,omitempty"`
	Size   int64  `json:"s"` // plaintext size
}

const (
	kindDump = "dump"
	kindFile = "file"
)

func encodeObjects(lines []objectLine) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for _, l := range lines {
		enc.Encode(l)
	}
	return buf.Bytes()
}

func decodeObjects(data []byte) ([]objectLine, error) {
	var out []objectLine
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for n := 1; sc.Scan(); n++ {
		var l objectLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return nil, fmt.Errorf("objects.jsonl line %d: %w", n, err)
		}
		if len(l.Name) != 64 || !isHex(l.Name) || len(l.SHA256) != 64 || l.Size < 0 {
			return nil, fmt.Errorf("objects.jsonl line %d: not an object", n)
		}
		out = append(out, l)
	}
	return out, sc.Err()
}

// checkedReader passes through exactly size bytes of r and checks their
// SHA-256 before it hands over the last of them: a reader of it that
// stops at size (an upload with a known length) never gets a whole object
// of the wrong bytes. Bytes past size are an error too.
type checkedReader struct {
	r    io.Reader
	want string
	left int64
	h    hash.Hash
	what string
}

func newCheckedReader(r io.Reader, size int64, sum, what string) *checkedReader {
	return &checkedReader{r: r, want: sum, left: size, h: sha256.New(), what: what}
}

// ErrChanged is returned when local bytes do not match their manifest.
var ErrChanged = fmt.Errorf("local copy does not match its manifest")

func (c *checkedReader) Read(p []byte) (int, error) {
	if c.left == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.h.Write(p[:n])
	c.left -= int64(n)
	if c.left == 0 {
		var one [1]byte
		if m, _ := io.ReadFull(c.r, one[:]); m > 0 {
			return 0, fmt.Errorf("%s: %w (it is longer than recorded): run verify", c.what, ErrChanged)
		}
		if hex.EncodeToString(c.h.Sum(nil)) != c.want {
			return 0, fmt.Errorf("%s: %w (its SHA-256 differs): run verify", c.what, ErrChanged)
		}
		return n, nil
	}
	if err == io.EOF {
		return n, fmt.Errorf("%s: %w (it is shorter than recorded): run verify", c.what, ErrChanged)
	}
	return n, err
}

// readAllPlain downloads a meta object and opens it.
func (r *Remote) readMeta(ctx context.Context, ix *Index, meta string) ([]byte, error) {
	ref, ok := ix.Meta[meta]
	if !ok {
		return nil, fmt.Errorf("offsite backup %s has no %s", ix.Backup, meta)
	}
	rc, err := r.Store.Get(ctx, ref.Name)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	opener := r.Opener
	if opener == nil {
		opener = &noOpener
	}
	pr, err := opener.Open(rc, ix.Encrypted)
	if err != nil {
		return nil, fmt.Errorf("offsite backup %s: %s: %w", ix.Backup, meta, err)
	}
	data, err := io.ReadAll(pr)
	if err != nil {
		return nil, fmt.Errorf("offsite backup %s: read %s: %w", ix.Backup, meta, err)
	}
	return data, nil
}
