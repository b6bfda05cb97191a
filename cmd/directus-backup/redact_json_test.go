package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// JSON output never carries the database password, even inside an error
// text and in the escaped form JSON gives it.
func TestPrintJSONScrubsSecrets(t *testing.T) {
	const secret = `S3cret-'"$x\y`
	var out bytes.Buffer
	a := &app{stdout: &out, secrets: []string{secret}}
	err := errors.New("connect postgres://app:" + secret + "@db/directus failed; password " + secret)
	if e := a.printJSON(map[string]string{"error": err.Error()}); e != nil {
		t.Fatal(e)
	}
	var doc map[string]string
	if e := json.Unmarshal(out.Bytes(), &doc); e != nil {
		t.Fatalf("not JSON any more: %v\n%s", e, out.String())
	}
	if strings.Contains(doc["error"], "S3cret") || !strings.Contains(doc["error"], "[REDACTED]") {
		t.Errorf("error field %q", doc["error"])
	}
}
