// Package compress wraps the dump stream in the chosen codec: gzip (the
// original backup.sh's format, read by gunzip; encoded in parallel blocks so both
// cores work), zstd (faster and smaller, for users who do not need gzip
// compatibility; read by zstd -d), or none. A future encryption layer slots
// in the same way, as one more writer/reader around the stream.
package compress

import (
	"fmt"
	"io"
	"runtime"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/klauspost/pgzip"
)

// Codecs.
const (
	Gzip = "gzip"
	Zstd = "zstd"
	None = "none"
)

// Ext is the file name extension of a codec: ".gz", ".zst" or "".
func Ext(codec string) string {
	switch codec {
	case Gzip:
		return ".gz"
	case Zstd:
		return ".zst"
	}
	return ""
}

// Of returns the codec of a file, by its extension.
func Of(path string) string {
	switch {
	case strings.HasSuffix(path, ".gz"):
		return Gzip
	case strings.HasSuffix(path, ".zst"):
		return Zstd
	}
	return None
}

// GzipEncoderLevel maps BACKUP_GZIP_LEVEL to the parallel encoder's level.
// Levels 1-8 are the encoder's own. For 9 the encoder's level 8 is used:
// measured on realistic dumps, its output is within 1% of `gzip -9`'s
// (from 1% smaller to 0.75% larger), while the encoder's level 9 is only
// 0.3-1.7% smaller again and 20-70% slower (see bench/README.md).
func GzipEncoderLevel(level int) int {
	if level >= 9 {
		return 8
	}
	return level
}

// NewWriter returns a writer that compresses into w. Close flushes the
// codec's last block; it does not close w.
func NewWriter(w io.Writer, codec string, gzipLevel int) (io.WriteCloser, error) {
	switch codec {
	case Gzip:
		return pgzip.NewWriterLevel(w, GzipEncoderLevel(gzipLevel))
	case Zstd:
		return zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedDefault),
			zstd.WithEncoderConcurrency(runtime.GOMAXPROCS(0)))
	case None:
		return nopCloser{w}, nil
	}
	return nil, fmt.Errorf("unknown compression %q", codec)
}

// NewReader returns a reader that decompresses r.
func NewReader(r io.Reader, codec string) (io.ReadCloser, error) {
	switch codec {
	case Gzip:
		return pgzip.NewReader(r)
	case Zstd:
		d, err := zstd.NewReader(r)
		if err != nil {
			return nil, err
		}
		return d.IOReadCloser(), nil
	case None:
		return io.NopCloser(r), nil
	}
	return nil, fmt.Errorf("unknown compression %q", codec)
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }
