package manifest

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"
)

// ListWriter writes entries as JSON Lines and hashes what it writes, so the
// summary can record the list's SHA-256 without reading it back.
type ListWriter struct {
	bw    *bufio.Writer
	h     hash.Hash
	count int64
}

// NewListWriter writes entries to w.
func NewListWriter(w io.Writer) *ListWriter {
	h := sha256.New()
	return &ListWriter{bw: bufio.NewWriterSize(io.MultiWriter(w, h), 256*1024), h: h}
}

// Add appends one entry. Entries must be added in ComparePaths order.
func (w *ListWriter) Add(e Entry) error {
	data, err := e.MarshalJSON() // directly: json.Marshal would re-scan the output
	if err != nil {
		return err
	}
	data = append(data, '\n')
	if _, err := w.bw.Write(data); err != nil {
		return err
	}
	w.count++
	return nil
}

// Close flushes buffered entries. It does not close the underlying writer.
func (w *ListWriter) Close() error { return w.bw.Flush() }

// Count is the number of entries added.
func (w *ListWriter) Count() int64 { return w.count }

// SHA256 is the hex SHA-256 of everything written; call it after Close.
func (w *ListWriter) SHA256() string { return hex.EncodeToString(w.h.Sum(nil)) }
