package main

import (
	"fmt"
	"io"

	"github.com/directus-backup/directus-backup/internal/humanize"
	"github.com/directus-backup/directus-backup/internal/job"
)

// locationDoc is one storage location besides uploads/, or the extensions
// folder, in backup --json.
type locationDoc struct {
	Name     string `json:"name"`
	Driver   string `json:"driver"`
	Folder   string `json:"folder"`
	Source   string `json:"source"`
	Previous string `json:"previous,omitempty"`
	uploadsDoc
}

func newLocationDoc(a job.AreaReport) locationDoc {
	u := a.Result
	return locationDoc{Name: a.Name, Driver: a.Driver, Folder: a.Folder, Source: a.Source, Previous: a.Previous,
		uploadsDoc: uploadsDoc{Files: u.Files, Dirs: u.Dirs, Symlinks: u.Symlinks, Skipped: u.Skipped, Bytes: u.Bytes,
			Linked: u.Linked, Copied: u.Copied, CopiedBytes: u.CopiedBytes, Rechecked: u.Rechecked, Compared: u.Compared,
			Refreshed: u.Refreshed}}
}

// addStorageDoc fills the storage fields of backup --json.
func addStorageDoc(doc *backupDoc, rep *job.Report) {
	doc.Files = "on"
	if rep.FilesOff {
		doc.Files = "off"
	}
	doc.DefaultLocation = rep.DefaultLocation
	doc.Storage = []locationDoc{}
	for _, a := range rep.Locations {
		doc.Storage = append(doc.Storage, newLocationDoc(a))
	}
	if rep.Extensions != nil {
		d := newLocationDoc(*rep.Extensions)
		doc.Extensions = &d
	}
}

// printStorage writes the storage lines of the backup summary; it says
// whether the uploads line applies (false: no uploads/ in this backup).
func printStorage(w io.Writer, rep *job.Report) bool {
	if rep.FilesOff {
		fmt.Fprintf(w, "  files      off (BACKUP_FILES=off): database only\n")
		return false
	}
	line := func(label string, a job.AreaReport) {
		u := a.Result
		fmt.Fprintf(w, "  %-10s %d files (%s) in %s/: %d linked, %d copied (%s)\n", label,
			u.Files, humanize.Bytes(u.Bytes), a.Folder, u.Linked, u.Copied, humanize.Bytes(u.CopiedBytes))
	}
	for _, a := range rep.Locations {
		line(a.Name, a)
	}
	if rep.Extensions != nil {
		line("extensions", *rep.Extensions)
	}
	return rep.DefaultLocation != ""
}
