package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/directus-backup/directus-backup/internal/manifest"
	"github.com/directus-backup/directus-backup/internal/snapshot"
)

// uploadsStep is the hidden "uploads-step" subcommand: the tool's uploads
// step (internal/snapshot.Take) alone, in its own process so that its
// rusage is comparable with rsync's. It prints the snapshot.Result as JSON.
func uploadsStep(args []string) int {
	fl := flag.NewFlagSet("uploads-step", flag.ContinueOnError)
	src := fl.String("src", "", "uploads folder to copy")
	dest := fl.String("dest", "", "folder to create")
	prev := fl.String("prev", "", "previous backup's uploads folder (empty: full copy)")
	prevList := fl.String("prev-list", "", "previous backup's manifest.files.jsonl")
	listOut := fl.String("list-out", "", "where to write the new entry list (empty: discard)")
	if err := fl.Parse(args); err != nil {
		return 2
	}
	if *src == "" || *dest == "" {
		fmt.Fprintln(os.Stderr, "uploads-step: -src and -dest are required")
		return 2
	}
	opts := snapshot.Options{
		Source:        *src,
		Dest:          *dest,
		Previous:      *prev,
		PreserveOwner: os.Geteuid() == 0,
		Warn: func(msg string, args ...any) {
			fmt.Fprintln(os.Stderr, append([]any{"WARN:", msg}, args...)...)
		},
	}
	if *prevList != "" {
		f, err := os.Open(*prevList)
		if err != nil {
			fmt.Fprintln(os.Stderr, "uploads-step:", err)
			return 1
		}
		defer f.Close()
		opts.PreviousList = f
	}
	var out io.Writer = io.Discard
	if *listOut != "" {
		f, err := os.OpenFile(*listOut, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			fmt.Fprintln(os.Stderr, "uploads-step:", err)
			return 1
		}
		defer f.Close()
		out = f
	}
	list := manifest.NewListWriter(out)
	res, err := snapshot.Take(context.Background(), opts, list)
	if err == nil {
		err = list.Close()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "uploads-step:", err)
		return 1
	}
	if f, ok := out.(*os.File); ok {
		if err := f.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "uploads-step:", err)
			return 1
		}
	}
	json.NewEncoder(os.Stdout).Encode(res)
	return 0
}
