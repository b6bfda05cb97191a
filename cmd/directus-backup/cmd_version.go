package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

func newVersionCommand(a *app) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "version",
		Short: "Print the version (also: --version)",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(*cobra.Command, []string) error {
			if asJSON {
				return a.printJSON(versionDoc{Version: versionNumber(), Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH})
			}
			fmt.Fprintf(a.stdout, "directus-backup %s\n", versionString())
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the version as JSON")
	return c
}

// versionDoc is version --json's document (docs/usage.md).
type versionDoc struct {
	Version string `json:"version"`
	Go      string `json:"go"`
	OS      string `json:"os"`
	Arch    string `json:"arch"`
}

// versionString is the version set at build time (-ldflags "-X
// main.version=..."), else what the Go toolchain recorded: the module
// version of a "go install ...@version", or the commit of a build from a
// git checkout. Then the Go version and platform.
func versionString() string {
	return fmt.Sprintf("%s (%s, %s/%s)", versionNumber(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// versionNumber is the tool's own version, as versionString says it.
func versionNumber() string {
	v := version
	if v == "dev" {
		if bi, ok := debug.ReadBuildInfo(); ok {
			if mv := bi.Main.Version; mv != "" && mv != "(devel)" {
				v = mv
			} else {
				rev, dirty := "", false
				for _, s := range bi.Settings {
					switch s.Key {
					case "vcs.revision":
						rev = s.Value
					case "vcs.modified":
						dirty = s.Value == "true"
					}
				}
				if rev != "" {
					v = "dev-" + rev[:min(12, len(rev))]
					if dirty {
						v += "-dirty"
					}
				}
			}
		}
	}
	return v
}
