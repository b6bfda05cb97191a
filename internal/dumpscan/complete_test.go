package dumpscan

import "testing"

func TestEndsComplete(t *testing.T) {
	tests := []struct {
		tail string
		want bool
	}{
		{"SET x;\n\n--\n-- PostgreSQL database dump complete\n--\n\n", true},
		{"--\n-- PostgreSQL database dump complete\n--\n\n\\unrestrict abcDEF123\n\n", true},
		{"COPY public.t (a) FROM stdin;\n1\n2\n", false},
		{"-- PostgreSQL database dump complete\n--\n\nCOPY x FROM stdin;\n", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := EndsComplete([]byte(tt.tail)); got != tt.want {
			t.Errorf("EndsComplete(%q) = %v, want %v", tt.tail, got, tt.want)
		}
	}
}
