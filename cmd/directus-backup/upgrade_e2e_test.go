package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/directus-backup/directus-backup/internal/manifest"
)

// launderAsOldVersion makes backup look as the version before
// uploads.vouched left it after linking a rotten copy of rel: the list
// records the rotten bytes' hash, its checksum in manifest.json matches,
// and nothing says the hashes were vouched for.
func launderAsOldVersion(t *testing.T, backup, rel string, rotten []byte) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(backup, manifest.FilesListName))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	lw := manifest.NewListWriter(&buf)
	rd := manifest.NewReader(bytes.NewReader(data))
	for {
		e, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if e.Path == rel {
			e.SHA256 = sha256Hex(rotten)
		}
		if err := lw.Add(e); err != nil {
			t.Fatal(err)
		}
	}
	lw.Close()
	if err := os.WriteFile(filepath.Join(backup, manifest.FilesListName), buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	m, err := manifest.Load(backup)
	if err != nil {
		t.Fatal(err)
	}
	m.Uploads.ListSHA256 = lw.SHA256()
	m.Uploads.Vouched = false
	if err := manifest.Write(backup, m); err != nil {
		t.Fatal(err)
	}
}

// A list written by an earlier version is not trusted for linking, even
// with a matching checksum: its rotten hash would otherwise be carried into
// every new backup. The first backup after upgrading compares linked files
// with the live ones; the next trusts its own, vouched, list.
func TestOlderVersionsListNotTrusted(t *testing.T) {
	f := newFixture(t)
	f.env["BACKUP_RECHECK_PERCENT"] = "0"
	first := f.mustBackup()
	rotten := rotFile(t, filepath.Join(first, "uploads", "a", "b.txt"))
	launderAsOldVersion(t, first, "a/b.txt", rotten)

	second := f.mustBackup()
	checkFresh(t, f, second, "a/b.txt")
	m, _ := readManifest(t, second)
	if !m.Uploads.Vouched || m.Uploads.Refreshed != 1 || m.Uploads.Compared == 0 {
		t.Errorf("first backup after upgrading: uploads %+v, want vouched, 1 refreshed, linked files compared", m.Uploads)
	}

	third := f.mustBackup()
	if m, _ := readManifest(t, third); m.Uploads.Compared != 0 || m.Uploads.Linked == 0 {
		t.Errorf("second backup after upgrading: uploads %+v, want its list trusted (nothing compared)", m.Uploads)
	}
}
