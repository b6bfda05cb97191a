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
		{[]string{"restore", "--db", "--target-dir", "x"}, "--target-dir goes with --uploads"},
	} {
		var stdout, stderr bytes.Buffer
		code := runCLI(t.Context(), tc.args, &stdout, &stderr)
		if code != exitUsage || !strings.Contains(stderr.String(), tc.want) || stdout.Len() != 0 {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want %d and %q", tc.args, code, stdout.String(), stderr.String(), exitUsage, tc.want)
		}
	}
}

// An unknown command or an extra argument is a usage error (exit 2), like a
// bad flag, and no pointer to doctor follows it.
func TestExtraArgumentsAreUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"foo"}, {"backup", "extra"}, {"restore", "a", "b"}, {"verify", "a", "b"}, {"version", "x"}, {"list", "x"}, {"prune", "x"}, {"doctor", "x"},
	} {
		var stdout, stderr bytes.Buffer
		code := runCLI(t.Context(), args, &stdout, &stderr)
		if code != exitUsage || !strings.Contains(stderr.String(), "usage:") || strings.Contains(stderr.String(), "doctor") && args[0] != "doctor" {
			t.Errorf("%v: exit %d, stderr %q; want %d, a usage error and no doctor hint", args, code, stderr.String(), exitUsage)
		}
	}
	var stdout, stderr bytes.Buffer
	if code := runCLI(t.Context(), nil, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "Usage:") {
		t.Errorf("no arguments: exit %d, stdout %q; want the help and 0", code, stdout.String())
	}
}
