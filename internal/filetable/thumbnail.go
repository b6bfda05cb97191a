package filetable

import "strings"

// Directus (10 and 11, api/src/services/assets.ts) stores a transformed
// image (a thumbnail, a preset, ?width=...) in the original's storage
// location, at its root, named
//
//	basename(filename_disk) without its extension + "__" + hash + extension
//
// where hash is object-hash's default (SHA-1, 40 hex digits) of the
// transformation list and the extension is the original's, or the
// requested format's (".webp", ".avif", ...). It makes them again on the
// next request, so they are neither rows nor needed in a backup.
const hashLen = 40

// stem is what Directus keeps of a filename_disk in the name of its
// transformations: Node's path.basename(name, path.extname(name)).
func stem(name string) string {
	name = strings.TrimRight(name, "/")
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	// Node's extname: from the last dot, unless the name starts with it.
	if i := strings.LastIndexByte(name, '.'); i > 0 {
		return name[:i]
	}
	return name
}

// thumbnailStems returns the stems that the file name p could be a
// transformation of, longest first: p has the shape of one when it lies at
// the location's root and has a "__" followed by 40 hex digits and then
// nothing or an extension.
func thumbnailStems(p string) []string {
	if strings.IndexByte(p, '/') >= 0 {
		return nil
	}
	var out []string
	for end := len(p); ; {
		i := strings.LastIndex(p[:end], "__")
		if i < 0 {
			return out
		}
		if rest := p[i+2:]; len(rest) >= hashLen && isHex(rest[:hashLen]) && isExt(rest[hashLen:]) {
			out = append(out, p[:i])
		}
		end = i
	}
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// isExt: nothing, or one extension (a dot and no further dot).
func isExt(s string) bool {
	return s == "" || s[0] == '.' && strings.IndexByte(s[1:], '.') < 0
}
