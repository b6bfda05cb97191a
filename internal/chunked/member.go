package chunked

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/directus-backup/directus-backup/internal/compress"
)

// coder compresses chunks into members and checks earlier members. Each
// worker has its own: neither the encoders nor the decoders are safe for
// concurrent use, and reusing them saves their allocations per chunk.
type coder struct {
	codec string
	gzw   *gzip.Writer
	gzr   *gzip.Reader
	zenc  *zstd.Encoder
	zdec  *zstd.Decoder
	raw   []byte // decompression buffer for zstd
}

func newCoder(codec string, level, maxRaw int) (*coder, error) {
	c := &coder{codec: codec}
	switch codec {
	case compress.Gzip:
		w, err := gzip.NewWriterLevel(io.Discard, compress.GzipEncoderLevel(level))
		if err != nil {
			return nil, err
		}
		c.gzw = w
	case compress.Zstd:
		enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1))
		if err != nil {
			return nil, err
		}
		// A damaged frame header could claim any size: the decoder never
		// allocates more than the largest chunk.
		dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderMaxMemory(uint64(maxRaw)), zstd.WithDecodeAllCapLimit(true))
		if err != nil {
			enc.Close()
			return nil, err
		}
		// DecodeAll's output is capped at this buffer's capacity.
		c.zenc, c.zdec, c.raw = enc, dec, make([]byte, 0, maxRaw)
	default:
		return nil, fmt.Errorf("chunked: no members for compression %q", codec)
	}
	return c, nil
}

func (c *coder) close() {
	if c.zenc != nil {
		c.zenc.Close()
	}
	if c.zdec != nil {
		c.zdec.Close()
	}
}

// encode appends the member of raw to dst.
func (c *coder) encode(dst *bytes.Buffer, raw []byte) error {
	if c.codec == compress.Zstd {
		dst.Write(c.zenc.EncodeAll(raw, dst.AvailableBuffer()))
		return nil
	}
	c.gzw.Reset(dst)
	if _, err := c.gzw.Write(raw); err != nil {
		return err
	}
	return c.gzw.Close()
}

var errMismatch = errors.New("does not decompress to the chunk it is listed as")

// check decompresses member, which must be exactly one member, and
// reports whether its bytes are want (rawSize bytes with that SHA-256).
func (c *coder) check(member []byte, want [32]byte, rawSize int64) error {
	h := sha256.New()
	switch c.codec {
	case compress.Zstd:
		out, err := c.zdec.DecodeAll(member, c.raw[:0])
		if err != nil {
			return err
		}
		c.raw = out[:0]
		if int64(len(out)) != rawSize {
			return errMismatch
		}
		h.Write(out)
	default:
		br := bytes.NewReader(member)
		var err error
		if c.gzr == nil {
			c.gzr, err = gzip.NewReader(br)
		} else {
			err = c.gzr.Reset(br)
		}
		if err != nil {
			return err
		}
		c.gzr.Multistream(false)
		// One byte more than the chunk: a member that holds more is not it.
		n, err := io.Copy(h, io.LimitReader(c.gzr, rawSize+1))
		if err != nil {
			return err
		}
		// The gzip trailer (CRC-32 and size) is checked at the member's
		// end; anything after it would be copied unchecked.
		if n != rawSize || br.Len() != 0 {
			return errMismatch
		}
	}
	if [32]byte(h.Sum(nil)) != want {
		return errMismatch
	}
	return nil
}
