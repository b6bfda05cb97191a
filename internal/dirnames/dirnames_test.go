package dirnames

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

func TestOrderInMemoryAndSpilled(t *testing.T) {
	dir := t.TempDir()
	var want []string
	for i := 0; i < 1000; i++ {
		n := fmt.Sprintf("f-%05d\n%c.jpg", (i*7919)%1000, 'a'+i%26) // awkward: a newline in the name
		os.WriteFile(filepath.Join(dir, n), nil, 0o644)
		want = append(want, n)
	}
	sort.Strings(want)
	for _, max := range []int{DefaultMax, 100, 7} {
		d, _ := os.Open(dir)
		spill := t.TempDir()
		it, err := Open(d, spill, max)
		d.Close()
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for {
			b := it.Batch(33)
			if len(b) == 0 {
				break
			}
			got = append(got, b...)
		}
		if it.Err() != nil {
			t.Fatal(it.Err())
		}
		it.Close()
		if len(got) != len(want) {
			t.Fatalf("max %d: %d names, want %d", max, len(got), len(want))
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("max %d: name %d = %q, want %q", max, i, got[i], want[i])
			}
		}
		if left, _ := os.ReadDir(spill); len(left) != 0 {
			t.Errorf("spill files left: %d", len(left))
		}
	}
}
