package manifest

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteLoadRoundTrip(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(dir); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Load of empty folder: %v", err)
	}
	m := &Manifest{Format: Format, JobID: "job-1", Database: Database{File: "db_backup.sql.gz", RawBytes: 10}}
	if err := Write(dir, m); err != nil {
		t.Fatal(err)
	}
	got, err := Load(dir)
	if err != nil || got.JobID != "job-1" || got.Database.RawBytes != 10 {
		t.Fatalf("Load = %+v, %v", got, err)
	}
	if fi, _ := os.Stat(filepath.Join(dir, FileName)); fi.Mode().Perm() != 0o600 {
		t.Errorf("manifest mode %v", fi.Mode().Perm())
	}
	if _, err := os.Stat(filepath.Join(dir, FileName+".tmp")); !os.IsNotExist(err) {
		t.Error("temporary manifest left behind")
	}
	// A newer format is refused rather than misread.
	os.WriteFile(filepath.Join(dir, FileName), []byte(`{"format": 99}`), 0o600)
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "format 99") {
		t.Errorf("newer format: %v", err)
	}
}

func TestListRoundTrip(t *testing.T) {
	var buf strings.Builder
	w := NewListWriter(&buf)
	in := []Entry{{Path: ".", Type: TypeDir, Mode: "0755"}, {Path: "a b/ü.png", Type: TypeFile, Size: 3, SHA256: "abc"}}
	for _, e := range in {
		if err := w.Add(e); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	if w.Count() != 2 || len(w.SHA256()) != 64 {
		t.Errorf("count %d sha %q", w.Count(), w.SHA256())
	}
	r := NewReader(strings.NewReader(buf.String()))
	for _, want := range in {
		got, err := r.Next()
		if err != nil || got != want {
			t.Errorf("Next = %+v, %v; want %+v", got, err, want)
		}
	}
	if _, err := r.Next(); err != io.EOF {
		t.Errorf("after last: %v", err)
	}
}
