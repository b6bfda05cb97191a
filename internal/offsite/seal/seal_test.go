package seal

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
)

func newKey(t *testing.T) *age.X25519Identity {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func mustNew(t *testing.T, recipients ...string) *Sealer {
	t.Helper()
	s, err := New(recipients)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Names are keyed with the recipients: not the content hash, the same for
// any order or repeat of the same keys, different for other keys.
func TestNames(t *testing.T) {
	a, b := newKey(t).Recipient().String(), newKey(t).Recipient().String()
	sum := sha256.Sum256([]byte("content"))
	h := hex.EncodeToString(sum[:])

	if got := mustNew(t).Name(h); got != h {
		t.Errorf("plain name %s, want the hash %s", got, h)
	}
	ab := mustNew(t, a, b).Name(h)
	if ab == h || len(ab) != 64 {
		t.Errorf("sealed name %q: want 64 hex digits other than the hash", ab)
	}
	if got := mustNew(t, b, " "+a+" ", b).Name(h); got != ab {
		t.Errorf("order, spaces or repeats of the recipients changed the name: %s vs %s", got, ab)
	}
	onlyA, onlyB := mustNew(t, a).Name(h), mustNew(t, b).Name(h)
	if onlyA == ab || onlyB == ab || onlyA == onlyB {
		t.Errorf("different recipient sets give the same name: a %s, b %s, a+b %s", onlyA, onlyB, ab)
	}
	other := sha256.Sum256([]byte("other"))
	if mustNew(t, a).Name(hex.EncodeToString(other[:])) == onlyA {
		t.Error("different contents give the same name")
	}
	if mustNew(t, a, b).Fingerprint() != mustNew(t, b, a).Fingerprint() || mustNew(t, a).Fingerprint() == mustNew(t, b).Fingerprint() {
		t.Error("fingerprints do not follow the recipient set")
	}
	if _, err := New([]string{"age1notakey"}); err == nil {
		t.Error("a malformed recipient was accepted")
	}
}

// SealedSize is the exact length of the sealed object, at the chunk
// boundaries of age's payload too.
func TestSealedSize(t *testing.T) {
	one := mustNew(t, newKey(t).Recipient().String())
	two := mustNew(t, newKey(t).Recipient().String(), newKey(t).Recipient().String())
	for _, s := range []*Sealer{one, two, mustNew(t)} {
		for _, n := range []int{0, 1, 65535, 65536, 65537, 1<<20 + 3} {
			data := make([]byte, n)
			rand.Read(data)
			var buf bytes.Buffer
			w, err := s.Seal(&buf)
			if err != nil {
				t.Fatal(err)
			}
			w.Write(data)
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			want, err := s.SealedSize(int64(n))
			if err != nil {
				t.Fatal(err)
			}
			if int64(buf.Len()) != want {
				t.Errorf("encrypted=%v size %d: sealed %d bytes, SealedSize says %d", s.Encrypted(), n, buf.Len(), want)
			}
		}
	}
}

func sealed(t *testing.T, s *Sealer, plain []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := s.Seal(&buf)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(plain)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func identityFile(t *testing.T, id *age.X25519Identity) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "key.txt")
	if err := os.WriteFile(p, []byte("# a comment\n"+id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// Opening needs the matching identity; without one, or with another, the
// error says what to set.
func TestOpen(t *testing.T) {
	id := newKey(t)
	s := mustNew(t, id.Recipient().String())
	plain := []byte("the plaintext")
	obj := sealed(t, s, plain)
	if bytes.Contains(obj, plain) {
		t.Fatal("the sealed object holds the plaintext")
	}

	o, err := LoadIdentities(identityFile(t, id))
	if err != nil {
		t.Fatal(err)
	}
	r, err := o.Open(bytes.NewReader(obj), true)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("opened %q, %v", got, err)
	}

	none, _ := LoadIdentities("")
	if _, err := none.Open(bytes.NewReader(obj), true); !errors.Is(err, ErrNoIdentity) {
		t.Errorf("open without an identity: %v, want ErrNoIdentity", err)
	}
	if !strings.Contains(ErrNoIdentity.Error(), "BACKUP_AGE_IDENTITY_FILE") {
		t.Errorf("ErrNoIdentity does not name the setting: %v", ErrNoIdentity)
	}
	if r, err := none.Open(bytes.NewReader(plain), false); err != nil {
		t.Errorf("a plain object needs no identity: %v", err)
	} else if got, _ := io.ReadAll(r); !bytes.Equal(got, plain) {
		t.Errorf("plain object read as %q", got)
	}

	wrong, err := LoadIdentities(identityFile(t, newKey(t)))
	if err != nil {
		t.Fatal(err)
	}
	_, err = wrong.Open(bytes.NewReader(obj), true)
	if err == nil || !strings.Contains(err.Error(), "does not match") || !strings.Contains(err.Error(), "BACKUP_AGE_IDENTITY_FILE") {
		t.Errorf("open with the wrong identity: %v; want a clear error naming BACKUP_AGE_IDENTITY_FILE", err)
	}

	bad := filepath.Join(t.TempDir(), "bad.txt")
	os.WriteFile(bad, []byte("AGE-SECRET-KEY-NOPE\n"), 0o600)
	if _, err := LoadIdentities(bad); err == nil || !strings.Contains(err.Error(), "BACKUP_AGE_IDENTITY_FILE") ||
		strings.Contains(err.Error(), "NOPE") {
		t.Errorf("load a bad identity file: %v; want an error naming the setting, not the key", err)
	}
	if _, err := LoadIdentities(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("a missing identity file was accepted")
	}
}
