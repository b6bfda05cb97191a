package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// maxDateBytes bounds the date part of a folder name, well under NAME_MAX.
const maxDateBytes = 100

const dateAccepted = "a strftime format using %Y %m %d %H %M %S %y %j %s %F %%, or a literal date; " +
	"the result must be 1 to 100 characters from A-Z a-z 0-9 - _ . + and not \".\" or \"..\""

// formatDate resolves BACKUP_FORMATTED_DATE: a value with '%' is a strftime
// format applied to t, anything else is taken literally (backup.sh exported
// the already formatted date). The result must be usable inside a folder
// name.
func formatDate(value string, t time.Time) (string, error) {
	out := value
	if strings.Contains(value, "%") {
		var err error
		if out, err = strftime(value, t); err != nil {
			return "", err
		}
	}
	if !safeNamePart(out) {
		if out != value {
			return "", fmt.Errorf("it gives %q", out)
		}
		return "", errors.New("not a safe folder-name part")
	}
	return out, nil
}

// strftime implements the directives backup.sh users are likely to have put
// in BACKUP_FORMATTED_DATE; anything else is refused rather than guessed.
func strftime(format string, t time.Time) (string, error) {
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			b.WriteByte(format[i])
			continue
		}
		i++
		if i == len(format) {
			return "", errors.New("the format ends with a lone %")
		}
		switch format[i] {
		case 'Y':
			fmt.Fprintf(&b, "%04d", t.Year())
		case 'm':
			fmt.Fprintf(&b, "%02d", int(t.Month()))
		case 'd':
			fmt.Fprintf(&b, "%02d", t.Day())
		case 'H':
			fmt.Fprintf(&b, "%02d", t.Hour())
		case 'M':
			fmt.Fprintf(&b, "%02d", t.Minute())
		case 'S':
			fmt.Fprintf(&b, "%02d", t.Second())
		case 'y':
			fmt.Fprintf(&b, "%02d", t.Year()%100)
		case 'j':
			fmt.Fprintf(&b, "%03d", t.YearDay())
		case 's':
			b.WriteString(strconv.FormatInt(t.Unix(), 10))
		case 'F':
			fmt.Fprintf(&b, "%04d-%02d-%02d", t.Year(), int(t.Month()), t.Day())
		case '%':
			b.WriteByte('%')
		default:
			r, _ := utf8.DecodeRuneInString(format[i:])
			return "", fmt.Errorf("unsupported directive %%%c", r)
		}
	}
	return b.String(), nil
}

// safeNamePart reports whether s can go inside a folder name without
// escaping BACKUPS_DIR or confusing shells and tools.
func safeNamePart(s string) bool {
	if s == "" || len(s) > maxDateBytes || s == "." || s == ".." {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-', c == '_', c == '.', c == '+':
		default:
			return false
		}
	}
	return true
}
