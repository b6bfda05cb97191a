package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/directus-backup/directus-backup/internal/config"
	"github.com/directus-backup/directus-backup/internal/humanize"
	"github.com/directus-backup/directus-backup/internal/job"
	"github.com/directus-backup/directus-backup/internal/restore"
	"github.com/directus-backup/directus-backup/internal/s3files"
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

// printStorage writes the storage lines of the backup summary, after the
// uploads line.
func printStorage(w io.Writer, rep *job.Report) {
	if rep.FilesOff {
		fmt.Fprintf(w, "  files      off (BACKUP_FILES=off): database only\n")
		return
	}
	line := func(label string, a job.AreaReport) {
		u := a.Result
		if a.Driver == config.DriverS3 {
			fmt.Fprintf(w, "  %-10s %d objects (%s) of %s in %s/: %d linked, %d downloaded (%s)\n", label,
				u.Files, humanize.Bytes(u.Bytes), a.Source, a.Folder, u.Linked, u.Copied, humanize.Bytes(u.CopiedBytes))
			return
		}
		fmt.Fprintf(w, "  %-10s %d files (%s) in %s/: %d linked, %d copied (%s)\n", label,
			u.Files, humanize.Bytes(u.Bytes), a.Folder, u.Linked, u.Copied, humanize.Bytes(u.CopiedBytes))
	}
	for _, a := range rep.Locations {
		line(a.Name, a)
	}
	if rep.Extensions != nil {
		line("extensions", *rep.Extensions)
	}
}

// addStorageRequest fills the storage part of a restore request from the
// settings: every location's live folder, the extensions folder, and what
// was selected.
func addStorageRequest(req *restore.Request, cfg *config.Config, all bool, locations []string, extensions bool) {
	req.AllFiles = all
	req.Locations = locations
	req.Extensions = extensions
	req.ExtensionsDir = cfg.ExtensionsDir
	if d, ok := cfg.Default(); ok {
		req.DefaultLocation = d.Name
	}
	req.LocationDirs = map[string]string{}
	req.LocationBuckets = map[string]s3files.Location{}
	for _, l := range cfg.Locations() {
		switch l.Driver {
		case config.DriverLocal:
			req.LocationDirs[strings.ToLower(l.Name)] = l.Root
		case config.DriverS3:
			req.LocationBuckets[strings.ToLower(l.Name)] = s3files.For(l)
		}
	}
}

// s3Line renders an s3 location restored into its bucket.
func s3Line(label string, s *restore.S3Report) string {
	extra := ""
	if s.Kept > 0 {
		extra += fmt.Sprintf("; kept %d objects not in the backup (--delete removes them)", s.Kept)
	}
	if s.Deleted > 0 {
		extra += fmt.Sprintf("; deleted %d objects not in the backup", s.Deleted)
	}
	return fmt.Sprintf("  %-10s %s: %d objects (%s), %d uploaded (%s, checksums verified before upload), %d already there with the same size and ETag%s (%s)",
		label, s.Target, s.Objects, humanize.Bytes(s.Bytes), s.Uploaded, humanize.Bytes(s.UploadedBytes), s.Skipped, extra, seconds(s.Seconds))
}

// restoreLines renders the restored storage locations and extensions.
func restoreLines(rep restore.Report) []string {
	var out []string
	if rep.FilesOff {
		out = append(out, "  files      none: a database-only backup (BACKUP_FILES=off)")
	}
	for i := range rep.Locations {
		l := &rep.Locations[i]
		if l.S3 != nil {
			out = append(out, s3Line(l.Name, l.S3))
			continue
		}
		out = append(out, uploadsLine(l.Name, &l.UploadsReport))
	}
	if e := rep.Extensions; e != nil {
		out = append(out, uploadsLine("extensions", &e.UploadsReport))
	}
	return out
}
