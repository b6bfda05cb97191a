package offsite

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

// A checkedReader never hands over the last byte of content whose SHA-256
// is wrong: a reader that stops at the known size (an upload with a
// Content-Length) gets the error before it has all the bytes, whatever the
// sizes of its reads. Longer and shorter sources fail too.
func TestCheckedReader(t *testing.T) {
	const size = 200003
	good := make([]byte, size)
	rand.Read(good)
	sum := sha256.Sum256(good)
	want := hex.EncodeToString(sum[:])
	lastWrong := bytes.Clone(good)
	lastWrong[size-1] ^= 0xff
	firstWrong := bytes.Clone(good)
	firstWrong[0] ^= 0xff

	wrap := map[string]func(io.Reader) io.Reader{
		"plain":   func(r io.Reader) io.Reader { return r },
		"onebyte": iotest.OneByteReader,
		"half":    iotest.HalfReader,
	}
	for wname, w := range wrap {
		for _, bufSize := range []int{1, 4096, size - 1, size, size + 10} {
			read := func(src []byte) ([]byte, error) {
				cr := newCheckedReader(bytes.NewReader(src), size, want, "x")
				// Read as an upload does: until size bytes or an error.
				var got []byte
				buf := make([]byte, bufSize)
				for len(got) < size {
					n, err := w(cr).Read(buf[:min(bufSize, size-len(got))])
					got = append(got, buf[:n]...)
					if err != nil {
						return got, err
					}
				}
				return got, nil
			}
			if got, err := read(good); err != nil || !bytes.Equal(got, good) {
				t.Errorf("%s/%d: good content: %d bytes, %v", wname, bufSize, len(got), err)
			}
			for name, src := range map[string][]byte{"last byte wrong": lastWrong, "first byte wrong": firstWrong,
				"one byte more": append(bytes.Clone(good), 'x'), "one byte short": good[:size-1]} {
				got, err := read(src)
				if err == nil {
					t.Errorf("%s/%d: %s: all %d bytes handed over without an error", wname, bufSize, name, len(got))
					continue
				}
				if len(got) >= size {
					t.Errorf("%s/%d: %s: %d bytes handed over before the error", wname, bufSize, name, len(got))
				}
				if !errors.Is(err, ErrChanged) {
					t.Errorf("%s/%d: %s: %v, want ErrChanged", wname, bufSize, name, err)
				}
			}
		}
	}
}
