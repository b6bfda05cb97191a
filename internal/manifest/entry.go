package manifest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"
)

// Entry types.
const (
	TypeFile    = "file"
	TypeDir     = "dir"
	TypeSymlink = "symlink"
)

// Entry is one item of the uploads tree, relative to the backup's uploads/.
// The root folder itself is the entry with Path ".".
//
// Path and Target hold the name's raw bytes. A name that is not valid
// UTF-8 (a Latin-1 "caf\xe9.jpg" from an old upload) cannot travel in a
// JSON string, so it is written as path_b64 / target_b64 (standard base64
// of the bytes) beside a readable "path" with the bad bytes replaced; a
// reader takes the _b64 form when it is there.
type Entry struct {
	Path   string `json:"path"` // slash-separated
	Type   string `json:"type"`
	Size   int64  `json:"size,omitempty"`
	Mode   string `json:"mode"` // octal permission and setuid/setgid/sticky bits, e.g. "0644"
	MTime  Time   `json:"mtime_ns"`
	UID    int    `json:"uid"`
	GID    int    `json:"gid"`
	SHA256 string `json:"sha256,omitempty"` // regular files only
	Target string `json:"target,omitempty"` // symlinks only
	// ETag is the S3 object's ETag, for files copied from an S3 storage
	// location (and folders that were marker objects).
	ETag string `json:"etag,omitempty"`
}

// entryFields is Entry without its methods, for the plain encoding.
type entryFields Entry

// entryWire is the encoding of an entry whose names are not valid UTF-8.
type entryWire struct {
	entryFields
	PathB64   string `json:"path_b64,omitempty"`
	TargetB64 string `json:"target_b64,omitempty"`
}

// MarshalJSON writes the entry, with path_b64/target_b64 for names that are
// not valid UTF-8.
func (e Entry) MarshalJSON() ([]byte, error) {
	if utf8.ValidString(e.Path) && utf8.ValidString(e.Target) {
		return json.Marshal(entryFields(e))
	}
	w := entryWire{entryFields: entryFields(e)}
	if !utf8.ValidString(e.Path) {
		w.PathB64 = base64.StdEncoding.EncodeToString([]byte(e.Path))
		w.Path = strings.ToValidUTF8(e.Path, "\uFFFD")
	}
	if !utf8.ValidString(e.Target) {
		w.TargetB64 = base64.StdEncoding.EncodeToString([]byte(e.Target))
		w.Target = strings.ToValidUTF8(e.Target, "\uFFFD")
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads an entry, taking the raw bytes of path_b64 and
// target_b64 when present.
func (e *Entry) UnmarshalJSON(data []byte) error {
	var w entryWire
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	*e = Entry(w.entryFields)
	if w.PathB64 != "" {
		b, err := base64.StdEncoding.DecodeString(w.PathB64)
		if err != nil {
			return fmt.Errorf("path_b64 of %q: %w", w.Path, err)
		}
		e.Path = string(b)
	}
	if w.TargetB64 != "" {
		b, err := base64.StdEncoding.DecodeString(w.TargetB64)
		if err != nil {
			return fmt.Errorf("target_b64 of %q: %w", w.Path, err)
		}
		e.Target = string(b)
	}
	return nil
}

// IsSHA256 reports whether s looks like a hex SHA-256 as lists record
// them (lower case), so a damaged list cannot put garbage into a new one.
func IsSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range []byte(s) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Time is a file time as the kernel keeps it, seconds and nanoseconds
// (0 <= Nsec < 1e9), without the range limit of int64 nanoseconds (years
// 1678 to 2262): anyone who can write the uploads folder can set any
// mtime, and the backup must keep it. In JSON it is one integer, the
// nanoseconds since the epoch, of whatever size it needs.
type Time struct {
	Sec, Nsec int64
}

// TimeOf returns the time of a stat(2) timestamp.
func TimeOf(ts syscall.Timespec) Time { return normTime(ts.Sec, ts.Nsec) }

// TimeFromUnixNano returns the time ns nanoseconds after the epoch.
func TimeFromUnixNano(ns int64) Time { return normTime(0, ns) }

func normTime(sec, nsec int64) Time {
	sec += nsec / 1e9
	nsec %= 1e9
	if nsec < 0 {
		sec--
		nsec += 1e9
	}
	return Time{Sec: sec, Nsec: nsec}
}

// Timespec returns t for utimensat(2) and friends.
func (t Time) Timespec() syscall.Timespec { return syscall.Timespec{Sec: t.Sec, Nsec: t.Nsec} }

// String formats t as RFC 3339 in UTC, with nanoseconds.
func (t Time) String() string {
	return time.Unix(t.Sec, t.Nsec).UTC().Format(time.RFC3339Nano)
}

// secRange is the largest |Sec| whose nanoseconds fit an int64 with room.
const secRange = math.MaxInt64/1_000_000_000 - 1

// MarshalJSON writes the nanoseconds since the epoch as one integer.
func (t Time) MarshalJSON() ([]byte, error) {
	if t.Sec >= -secRange && t.Sec <= secRange {
		return strconv.AppendInt(nil, t.Sec*1e9+t.Nsec, 10), nil
	}
	n := new(big.Int).Mul(big.NewInt(t.Sec), big.NewInt(1e9))
	n.Add(n, big.NewInt(t.Nsec))
	return n.Append(nil, 10), nil
}

// UnmarshalJSON reads an integer number of nanoseconds since the epoch.
func (t *Time) UnmarshalJSON(data []byte) error {
	s := string(data)
	if ns, err := strconv.ParseInt(s, 10, 64); err == nil {
		*t = TimeFromUnixNano(ns)
		return nil
	}
	n, ok := new(big.Int).SetString(s, 10)
	if !ok {
		return fmt.Errorf("mtime_ns %s is not an integer", s)
	}
	sec, nsec := new(big.Int).DivMod(n, big.NewInt(1e9), new(big.Int)) // Euclidean: nsec >= 0
	if !sec.IsInt64() {
		return fmt.Errorf("mtime_ns %s is out of range", s)
	}
	*t = Time{Sec: sec.Int64(), Nsec: nsec.Int64()}
	return nil
}
