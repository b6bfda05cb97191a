package main

import "testing"

// offsite-restore runs only when restore lists --offsite as a flag, not
// when its prose or usage line names it.
func TestOffsiteFlagRE(t *testing.T) {
	for help, want := range map[string]bool{
		"Usage:\n  directus-backup restore [--offsite] [BACKUP] [flags]\n":                               false,
		"--offsite restores from the copy in the S3 bucket\n":                                            false,
		"      --offsite-retention-days string   remove offsite backups\n":                               false,
		"Flags:\n      --db   restore the database\n      --offsite   restore from the copy in the S3\n": true,
	} {
		if got := offsiteFlagRE.MatchString(help); got != want {
			t.Errorf("%q: %v, want %v", help, got, want)
		}
	}
}
