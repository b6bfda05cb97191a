package fsmeta

import (
	"path/filepath"
	"strings"
)

// Within reports whether p is dir or inside it, by their names alone (both
// clean and absolute; see RealPath for symlinks).
func Within(p, dir string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

// RealPath resolves the symlinks in the longest existing prefix of p (clean
// and absolute), so that a folder not made yet is still compared where it
// would be. It returns p when no prefix resolves.
func RealPath(p string) string {
	rest := ""
	for cur := p; ; {
		if r, err := filepath.EvalSymlinks(cur); err == nil {
			return filepath.Join(r, rest)
		}
		parent := filepath.Dir(cur)
		if parent == cur {
			return p
		}
		rest = filepath.Join(filepath.Base(cur), rest)
		cur = parent
	}
}
