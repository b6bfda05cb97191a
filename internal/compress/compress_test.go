package compress

import (
	"bytes"
	"compress/gzip"
	"io"
	"os/exec"
	"strings"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	data := []byte(strings.Repeat("INSERT INTO t VALUES (1, 'directus');\n", 50000))
	for _, codec := range []string{Gzip, Zstd, None} {
		var buf bytes.Buffer
		w, err := NewWriter(&buf, codec, 9)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if codec != None && buf.Len() >= len(data)/10 {
			t.Errorf("%s: %d bytes from %d: not compressed", codec, buf.Len(), len(data))
		}
		r, err := NewReader(bytes.NewReader(buf.Bytes()), Of("x.sql"+Ext(codec)))
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("%s: round trip failed: %v", codec, err)
		}
		// The standard tools read what we write.
		switch codec {
		case Gzip:
			zr, err := gzip.NewReader(bytes.NewReader(buf.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := io.ReadAll(zr); !bytes.Equal(got, data) {
				t.Error("compress/gzip cannot read our gzip")
			}
		case Zstd:
			if _, err := exec.LookPath("zstd"); err == nil {
				cmd := exec.Command("zstd", "-dc")
				cmd.Stdin = bytes.NewReader(buf.Bytes())
				out, err := cmd.Output()
				if err != nil || !bytes.Equal(out, data) {
					t.Errorf("zstd -dc cannot read our zstd: %v", err)
				}
			}
		}
	}
}

func TestGzipEncoderLevel(t *testing.T) {
	for in, want := range map[int]int{1: 1, 6: 6, 8: 8, 9: 8} {
		if got := GzipEncoderLevel(in); got != want {
			t.Errorf("GzipEncoderLevel(%d) = %d, want %d", in, got, want)
		}
	}
}
