package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/directus-backup/directus-backup/internal/restore"
)

// The uploads summary says what was read: "checksums verified" alone only
// when every file's content was; files linked by size and time are named as
// such, and a legacy backup says --checksum had nothing to compare with.
func TestPrintRestoreUploadsChecks(t *testing.T) {
	for _, tc := range []struct {
		name    string
		u       restore.UploadsReport
		want    []string
		notWant []string
	}{
		{"all copied", restore.UploadsReport{Files: 5, Copied: 5, Verified: true},
			[]string{"5 files", "checksums verified ("}, []string{"linked"}},
		{"most linked", restore.UploadsReport{Files: 10, Copied: 2, Linked: 8, Verified: true},
			[]string{"checksums verified for the 2 copied files; 8 linked from the live folder by size and time, not read (--checksum hashes them)"}, nil},
		{"checksum", restore.UploadsReport{Files: 10, Copied: 2, Linked: 8, Hashed: 8, Verified: true, Checksum: true},
			[]string{"checksums verified; 8 linked from the live folder after hashing, 2 copied"}, []string{"not read"}},
		{"legacy", restore.UploadsReport{Files: 3, Copied: 1, Linked: 2, Checksum: true},
			[]string{"no manifest: checksums not checked (--checksum had nothing to compare with); 2 linked from the live folder, 1 copied"},
			[]string{"checksums verified"}},
		{"aside", restore.UploadsReport{Files: 3, Copied: 3, Verified: true, Aside: []string{"/srv/.uploads.old-0123456789abcdef"}},
			[]string{"1 folders an interrupted restore moved aside are still beside the target"}, nil},
	} {
		var b bytes.Buffer
		tc.u.Target = "/srv/uploads"
		printRestore(&b, restore.Report{Backup: "backup_x", State: "complete", Uploads: &tc.u})
		for _, w := range tc.want {
			if !strings.Contains(b.String(), w) {
				t.Errorf("%s: summary lacks %q:\n%s", tc.name, w, b.String())
			}
		}
		for _, w := range tc.notWant {
			if strings.Contains(b.String(), w) {
				t.Errorf("%s: summary has %q:\n%s", tc.name, w, b.String())
			}
		}
	}
}
