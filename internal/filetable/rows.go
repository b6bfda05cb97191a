package filetable

import (
	"strings"

	"github.com/directus-backup/directus-backup/internal/dumpscan"
)

// DefaultLocation is the Directus storage location whose files a backup
// keeps in uploads/ (STORAGE_LOCAL_ROOT, or BACKUP_UPLOADS_DIR). Rows with
// no storage column or a NULL storage are taken to be on it, as the
// original backup.sh only ever knew that one.
const DefaultLocation = "local"

// Row is one directus_files row with a file on disk.
type Row struct {
	ID       string `json:"id"`
	Storage  string `json:"storage"`
	Filename string `json:"filename_disk"`
}

// IsTable reports whether a COPY table name (as pg_dump writes it) is
// Directus's file table, in whatever schema the install uses.
func IsTable(table string) bool {
	return table == "directus_files" || strings.HasSuffix(table, ".directus_files")
}

// Collector gathers the rows of directus_files from a dump as a
// dumpscan.Scanner reads it: set the scanner's Want to IsTable and its
// OnRow to the collector's OnRow.
type Collector struct {
	Rows []Row
	// NoColumn lists the file tables whose COPY has no filename_disk
	// column: nothing could be read from them.
	NoColumn []string
	cols     map[string][]int
}

// The columns read, in the order dumpscan.Columns gives their positions.
var wantColumns = []string{"id", "storage", "filename_disk"}

const (
	colID = iota
	colStorage
	colFilename
)

// Hook makes s hand the file table's rows to c.
func (c *Collector) Hook(s *dumpscan.Scanner) {
	s.Also(IsTable, c.OnRow) // beside any other reader of the same pass
}

// OnRow takes one row of a file table (dumpscan.Scanner.OnRow). A row with
// a NULL filename_disk has no file (an import that failed) and is left out.
func (c *Collector) OnRow(table string, cols []string, line []byte) {
	idx, ok := c.cols[table]
	if !ok {
		idx = dumpscan.Columns(cols, wantColumns...)
		if c.cols == nil {
			c.cols = map[string][]int{}
		}
		c.cols[table] = idx
		if idx[colFilename] < 0 {
			c.NoColumn = append(c.NoColumn, table)
		}
	}
	if idx[colFilename] < 0 {
		return
	}
	name, ok := dumpscan.Field(line, idx[colFilename])
	if !ok {
		return
	}
	r := Row{Filename: name, Storage: DefaultLocation}
	if st, ok := dumpscan.Field(line, idx[colStorage]); ok {
		r.Storage = st
	}
	r.ID, _ = dumpscan.Field(line, idx[colID])
	c.Rows = append(c.Rows, r)
}
