package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/directus-backup/directus-backup/internal/humanize"
)

const envMinFree = "BACKUP_MIN_FREE"

// MinFree is the free space BACKUPS_DIR must keep after a run's estimated
// need (BACKUP_MIN_FREE): a size in bytes or a share of the filesystem.
// The zero value is off.
type MinFree struct {
	Bytes   int64   // a fixed size; 0 when Percent is used
	Percent float64 // a share of the filesystem's size, 0 to 100
}

// Off reports whether the check is disabled (BACKUP_MIN_FREE=0).
func (m MinFree) Off() bool { return m.Bytes == 0 && m.Percent == 0 }

// Of returns the margin in bytes for a filesystem of total bytes.
func (m MinFree) Of(total uint64) uint64 {
	if m.Percent > 0 {
		return uint64(float64(total) * m.Percent / 100)
	}
	return uint64(m.Bytes)
}

// String is the setting as a user would write it.
func (m MinFree) String() string {
	if m.Percent > 0 {
		return strconv.FormatFloat(m.Percent, 'f', -1, 64) + "%"
	}
	return humanize.Bytes(m.Bytes)
}

// sizeUnits are the suffixes ParseMinFree accepts: SI (1000) and IEC
// (1024) multiples, as df -H and df -h print them.
var sizeUnits = []struct {
	suffix string
	mult   float64
}{
	{"TIB", 1 << 40}, {"GIB", 1 << 30}, {"MIB", 1 << 20}, {"KIB", 1 << 10},
	{"TB", 1e12}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3},
	{"T", 1 << 40}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10},
	{"B", 1},
}

// ParseMinFree reads a BACKUP_MIN_FREE value: "0" (off), a size such as
// "2GiB", "500MB" or "1073741824", or a percentage such as "5%".
func ParseMinFree(v string) (MinFree, error) {
	s := strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(v), " ", ""))
	if p, ok := strings.CutSuffix(s, "%"); ok {
		f, err := strconv.ParseFloat(p, 64)
		if err != nil || f < 0 || f >= 100 || math.IsNaN(f) {
			return MinFree{}, fmt.Errorf("bad percentage %q", v)
		}
		return MinFree{Percent: f}, nil
	}
	mult := 1.0
	for _, u := range sizeUnits {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = n, u.mult
			break
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || math.IsNaN(f) || f*mult >= math.MaxInt64 {
		return MinFree{}, fmt.Errorf("bad size %q", v)
	}
	return MinFree{Bytes: int64(f * mult)}, nil
}

func (r *resolver) minFree() MinFree {
	v := r.value(envMinFree)
	m, err := ParseMinFree(v)
	if err != nil {
		r.fail(envMinFree, v, "a size such as 2GiB or 500MB, a percentage such as 5%, or 0 (off)", nil)
	}
	return m
}
