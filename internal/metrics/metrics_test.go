package metrics

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func value(t *testing.T, path, name string) (float64, bool) {
	t.Helper()
	fams, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	f, ok := fams[name]
	if !ok {
		return 0, false
	}
	return f.Metric[0].GetGauge().GetValue(), true
}

// The file is read back and rewritten: a failed run keeps the last success
// time, verify keeps the backup's metrics, a backup keeps verify's.
func TestReadModifyWrite(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "directus_backup.prom")
	t0 := time.Unix(1_800_000_000, 0)
	ok := Backup{Started: t0, Finished: t0.Add(5 * time.Second), DumpRawBytes: 100, DumpStoredBytes: 10,
		FilesTotal: 3, FilesCopied: 1, FilesLinked: 2, BytesCopied: 7, BackupsKept: 2, FreeBytes: 1 << 30,
		Steps: []Step{{"init", 0.5}, {"database", 3}}, Offsite: &Offsite{Bytes: 9, Objects: 4}}
	if err := WriteBackup(ctx, path, ok); err != nil {
		t.Fatal(err)
	}
	if v, _ := value(t, path, LastSuccess); v != 1_800_000_005 {
		t.Errorf("last success %v", v)
	}
	if data, _ := os.ReadFile(path); !strings.Contains(string(data), StepDuration+"{step=\"database\"} 3\n") {
		t.Errorf("no database step duration:\n%s", data)
	}
	if v, _ := value(t, path, OffsiteBytes); v != 9 {
		t.Errorf("offsite bytes %v", v)
	}
	if err := WriteVerify(ctx, path, t0.Add(time.Minute), true); err != nil {
		t.Fatal(err)
	}
	failed := Backup{Started: t0.Add(time.Hour), Finished: t0.Add(time.Hour + time.Second), ExitCode: 4,
		DumpRawBytes: -1, DumpStoredBytes: -1, FilesTotal: -1, FilesCopied: -1, FilesLinked: -1, BytesCopied: -1,
		BackupsKept: -1, FreeBytes: -1}
	if err := WriteBackup(ctx, path, failed); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]float64{LastSuccess: 1_800_000_005, LastRun: 1_800_003_601, ExitCode: 4,
		LastOK: 0, LastVerifyOK: 1_800_000_060} {
		if v, found := value(t, path, name); !found || v != want {
			t.Errorf("%s = %v (present %v), want %v", name, v, found, want)
		}
	}
	for _, gone := range []string{DumpRawBytes, OffsiteBytes, BackupsKept} {
		if _, found := value(t, path, gone); found {
			t.Errorf("%s of the earlier run kept after a failed run", gone)
		}
	}
	if err := WriteVerify(ctx, path, t0.Add(2*time.Hour), false); err != nil {
		t.Fatal(err)
	}
	if v, _ := value(t, path, LastVerifyOK); v != 1_800_000_060 {
		t.Errorf("a failed verify moved the last verify success to %v", v)
	}
	if v, _ := value(t, path, LastVerifyRun); v != 1_800_007_200 {
		t.Errorf("last verify run %v", v)
	}
	data, _ := os.ReadFile(path)
	for _, want := range []string{"# HELP " + LastSuccess + " ", "# TYPE " + LastSuccess + " gauge\n"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("file lacks %q:\n%s", want, data)
		}
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, %v", fi, err)
	}
	if ents, _ := os.ReadDir(filepath.Dir(path)); len(ents) != 1 {
		t.Errorf("leftovers beside the file: %v", ents)
	}
}

// A file that is not Prometheus text is left as it is.
func TestForeignFileLeftAlone(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notes.prom")
	os.WriteFile(path, []byte("this is { not metrics\n"), 0o600)
	if err := WriteBackup(context.Background(), path, Backup{}); err == nil {
		t.Fatal("no error for a file that does not parse")
	}
	if data, _ := os.ReadFile(path); string(data) != "this is { not metrics\n" {
		t.Errorf("file changed: %q", data)
	}
}
