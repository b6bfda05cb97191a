package capbuf

import "testing"

func TestHeadTail(t *testing.T) {
	h, tl := &Head{Max: 5}, &Tail{Max: 5}
	for _, s := range []string{"ab", "cdef", "ghijklmnop", "q"} {
		h.Write([]byte(s))
		tl.Write([]byte(s))
	}
	if h.String() != "abcde" {
		t.Errorf("Head = %q", h.String())
	}
	if tl.String() != "mnopq" {
		t.Errorf("Tail = %q", tl.String())
	}
	if got := LastLines("a\nb\nc\n", 2); got != "b\nc" {
		t.Errorf("LastLines = %q", got)
	}
}
