package manifest

import (
	"strings"
	"syscall"
	"testing"
)

// Names that are not UTF-8 and times outside int64 nanoseconds must come
// back exactly: anyone who can write the uploads folder can make them.
func TestEntryRoundTripAwkward(t *testing.T) {
	in := []Entry{
		{Path: ".", Type: TypeDir, Mode: "0755", MTime: Time{Sec: 0, Nsec: 0}},
		{Path: "caf\xe9.jpg", Type: TypeFile, Size: 1, Mode: "0644", MTime: Time{Sec: 1700000000, Nsec: 123456789}},
		{Path: "dir/\xff\xfe", Type: TypeSymlink, Mode: "0777", Target: "../caf\xe9.jpg", MTime: Time{Sec: -1, Nsec: 500000000}},
		{Path: "far future", Type: TypeFile, Mode: "0644", MTime: Time{Sec: 1 << 40, Nsec: 999999999}},               // year ~36812
		{Path: "far past", Type: TypeFile, Mode: "0644", MTime: Time{Sec: -(1 << 40), Nsec: 1}},                      // before 1678
		{Path: "line\nbreak\r\x1b[31m", Type: TypeFile, Mode: "0600", MTime: Time{Sec: 9223372036, Nsec: 854775807}}, // the int64 ns edge
		{Path: "just past", Type: TypeFile, Mode: "0600", MTime: Time{Sec: 9223372036, Nsec: 854775808}},
		{Path: strings.Repeat("é", 127) + "x", Type: TypeFile, Mode: "0600"},
	}
	var buf strings.Builder
	w := NewListWriter(&buf)
	for _, e := range in {
		if err := w.Add(e); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	if !strings.Contains(buf.String(), `"path_b64":"Y2Fm6S5qcGc="`) {
		t.Errorf("non-UTF-8 name not written as path_b64:\n%s", buf.String())
	}
	if !strings.Contains(buf.String(), `"mtime_ns":1700000000123456789`) {
		t.Errorf("ordinary mtime not written as plain nanoseconds:\n%s", buf.String())
	}
	r := NewReader(strings.NewReader(buf.String()))
	for _, want := range in {
		got, err := r.Next()
		if err != nil || got != want {
			t.Errorf("Next = %+v, %v\nwant %+v", got, err, want)
		}
	}
}

func TestTimeOf(t *testing.T) {
	for _, c := range []struct {
		ts   syscall.Timespec
		want Time
	}{
		{syscall.Timespec{Sec: 5, Nsec: 7}, Time{5, 7}},
		{syscall.Timespec{Sec: -2, Nsec: 999999999}, Time{-2, 999999999}},
		{syscall.Timespec{Sec: 1 << 41, Nsec: 0}, Time{1 << 41, 0}},
	} {
		if got := TimeOf(c.ts); got != c.want || got.Timespec() != c.ts {
			t.Errorf("TimeOf(%v) = %v", c.ts, got)
		}
	}
	if got := TimeFromUnixNano(-1); got != (Time{-1, 999999999}) {
		t.Errorf("TimeFromUnixNano(-1) = %+v", got)
	}
	if s := (Time{Sec: 11000000000}).String(); !strings.HasPrefix(s, "2318-") {
		t.Errorf("String of a 2318 time = %s", s)
	}
}
