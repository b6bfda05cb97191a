package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeManifest writes a manifest.json with the given database object.
func writeManifest(t *testing.T, database string) string {
	t.Helper()
	dir := t.TempDir()
	doc := `{"format":1,"steps":[{"name":"init","seconds":0.01},{"name":"database","seconds":2.5},{"name":"uploads","seconds":1}],` +
		`"database":` + database + `}`
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestChunkMetricsReadsTheContract(t *testing.T) {
	dir := writeManifest(t, `{"file":"db_backup.sql.gz","raw_bytes":1000,"chunks":{"list_file":"manifest.chunks.jsonl",
		"list_sha256":"ab","count":10,"average":100,"reused":8,"reused_raw_bytes":800,"fresh_raw_bytes":200,"refreshed":0,
		"previous":"backup_x","tables":{"public.articles":{"raw_bytes":600,"fresh_raw_bytes":60},
		"public.directus_activity":{"raw_bytes":300,"fresh_raw_bytes":100}}}}`)
	out := map[string]float64{}
	if err := chunkMetrics(dir, out); err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{
		mDumpStep: 2.5, mChunks: 10, mReused: 8, mFreshShare: 20,
		keyTableShare + "public.articles": 10, keyTableShare + "public.directus_activity": 100.0 / 3,
		mRestShare: 40, // (200-160) of (1000-900)
	}
	for k, v := range want {
		if got, ok := out[k]; !ok || got-v > 1e-9 || v-got > 1e-9 {
			t.Errorf("%s = %v (present %v), want %v", k, got, ok, v)
		}
	}

	sr := &scenarioResult{Name: "incremental"}
	for _, key := range []string{cBase, cTool} {
		c := &contenderResult{Key: key, Label: key, Values: map[string][]float64{}}
		if key == cTool {
			for k, v := range out {
				c.add(k, v)
			}
		}
		sr.Contenders = append(sr.Contenders, c)
	}
	text := shareSection(sr)
	for _, s := range []string{"| chunks | 10 |", "| chunks reused from the previous dump | 8 |", "whole dump** | 20.0 % |",
		"public.articles (0.001 MiB raw) | 10.0 % |", "schema SQL) | 40.0 % of"} {
		if !strings.Contains(text, s) {
			t.Errorf("share section lacks %q:\n%s", s, text)
		}
	}
	if strings.Index(text, "public.articles") > strings.Index(text, "public.directus_activity") {
		t.Errorf("the larger table should come first:\n%s", text)
	}
}

// A backup of a tool that does not chunk its dump: no chunk figures, no
// error, and the section says n/a.
func TestChunkMetricsWithoutChunks(t *testing.T) {
	dir := writeManifest(t, `{"file":"db_backup.sql.gz","raw_bytes":1000}`)
	out := map[string]float64{}
	if err := chunkMetrics(dir, out); err != nil {
		t.Fatal(err)
	}
	if _, ok := out[mChunks]; ok || out[mDumpStep] != 2.5 {
		t.Fatalf("got %v, want only %s", out, mDumpStep)
	}
	c := &contenderResult{Key: cTool, Label: "directus-backup", Values: map[string][]float64{}}
	for k, v := range out {
		c.add(k, v)
	}
	text := shareSection(&scenarioResult{Contenders: []*contenderResult{c}})
	if !strings.Contains(text, "| chunks | n/a |") || !strings.Contains(text, "writes no `database.chunks`") {
		t.Errorf("want n/a rows:\n%s", text)
	}
}

func TestReadLoadavg(t *testing.T) {
	if _, err := os.Stat("/proc/loadavg"); err != nil {
		t.Skip("no /proc/loadavg")
	}
	a, r, ok := readLoadavg()
	if !ok || a < 0 || r < 1 {
		t.Fatalf("readLoadavg = %v, %v, %v", a, r, ok)
	}
}
