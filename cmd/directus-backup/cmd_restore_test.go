package main

import (
	"bytes"
	"strings"
	"testing"
)

// Flags that belong to the part not restored are usage errors, reported
// before any setting is read or anything is touched.
func TestRestoreFlagsGoWithTheirPart(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"restore", "--uploads", "--yes"}, "--yes goes with --db"},
		{[]string{"restore", "--uploads", "-y"}, "--yes goes with --db"},
		{[]string{"restore", "--db", "--delete"}, "--delete goes with --uploads"},
		{[]string{"restore", "--uploads", "--target-db", "x"}, "--target-db goes with --db"},
		{[]string{"restore", "--db", "--checksum"}, "--checksum goes with --uploads"},
	} {
		var stdout, stderr bytes.Buffer
		code := runCLI(t.Context(), tc.args, &stdout, &stderr)
		if code != exitUsage || !strings.Contains(stderr.String(), tc.want) || stdout.Len() != 0 {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want %d and %q", tc.args, code, stdout.String(), stderr.String(), exitUsage, tc.want)
		}
	}
}
