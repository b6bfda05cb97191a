// Package seal encrypts offsite objects with age and names them.
//
// The backup host holds only public keys (recipients): it can seal, never
// open. Opening needs an identity (a private key), which belongs on the
// machine that restores, not on the backup host.
//
// Object names must not reveal contents when encryption is on: a plain
// SHA-256 would let anyone who can list the bucket confirm that a known
// file is there. Names are therefore an HMAC of the content hash under a key
// derived from the recipients. The recipients never travel in the bucket
// (age headers do not name them), so a reader of the bucket alone cannot
// compute names; any host with the same recipients computes the same names
// and so deduplicates; and a change of recipients changes every name, which
// is right, since objects sealed to the old keys are unreadable to the new.
package seal

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"

	"filippo.io/age"
)

// Sealer seals objects to the recipients, or passes them through when there
// are none.
type Sealer struct {
	recipients []age.Recipient
	nameKey    []byte // nil when plain
	print      string // fingerprint of the recipients; "" when plain

	hdrOnce sync.Once
	hdr     int64
	hdrErr  error
}

// New parses the recipients (age1... public keys). None: a plain Sealer.
func New(recipients []string) (*Sealer, error) {
	s := &Sealer{}
	var clean []string
	for _, r := range recipients {
		if r = strings.TrimSpace(r); r != "" {
			clean = append(clean, r)
		}
	}
	if len(clean) == 0 {
		return s, nil
	}
	for i, r := range clean {
		parsed, err := age.ParseRecipients(strings.NewReader(r))
		if err != nil || len(parsed) != 1 {
			// age's error quotes the value, which may be a private key pasted by mistake.
			return nil, fmt.Errorf("age recipient %d of %d is not a public key age accepts (age1...)", i+1, len(clean))
		}
		s.recipients = append(s.recipients, parsed[0])
	}
	// Order and repeats must not change names.
	slices.Sort(clean)
	clean = slices.Compact(clean)
	h := sha256.New()
	io.WriteString(h, "directus-backup offsite object names v1\n")
	for _, r := range clean {
		io.WriteString(h, r+"\n")
	}
	s.nameKey = h.Sum(nil)
	fp := sha256.Sum256(append([]byte("directus-backup recipients fingerprint v1\n"), s.nameKey...))
	s.print = hex.EncodeToString(fp[:8])
	return s, nil
}

// Encrypted reports whether objects are sealed.
func (s *Sealer) Encrypted() bool { return len(s.recipients) > 0 }

// Fingerprint identifies the recipient set without revealing it ("" when
// plain): two pushes with the same fingerprint share object names.
func (s *Sealer) Fingerprint() string { return s.print }

// Name returns the object name for content whose SHA-256 is sum (hex): the
// hash itself when plain, a keyed hash of it when sealed.
func (s *Sealer) Name(sum string) string {
	if s.nameKey == nil {
		return sum
	}
	m := hmac.New(sha256.New, s.nameKey)
	io.WriteString(m, sum)
	return hex.EncodeToString(m.Sum(nil))
}

// Seal returns a writer whose output, sealed, goes to w. Close it to finish
// the object.
func (s *Sealer) Seal(w io.Writer) (io.WriteCloser, error) {
	if !s.Encrypted() {
		return nopCloser{w}, nil
	}
	return age.Encrypt(w, s.recipients...)
}

// SealedSize returns the size of n plaintext bytes once sealed.
func (s *Sealer) SealedSize(n int64) (int64, error) {
	if !s.Encrypted() {
		return n, nil
	}
	s.hdrOnce.Do(func() { s.hdr, s.hdrErr = s.headerSize() })
	hdr, err := s.hdr, s.hdrErr
	if err != nil {
		return 0, err
	}
	const chunk, tag, nonce = 64 << 10, 16, 16
	chunks := (n + chunk - 1) / chunk
	if chunks == 0 {
		chunks = 1 // an empty payload is one empty chunk
	}
	return hdr + nonce + n + chunks*tag, nil
}

// headerSize measures the age header for these recipients: its length
// depends only on the recipient types, not on the random key material.
func (s *Sealer) headerSize() (int64, error) {
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, s.recipients...)
	if err != nil {
		return 0, err
	}
	if err := w.Close(); err != nil {
		return 0, err
	}
	return int64(buf.Len()) - 16 - 16, nil
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// Opener opens sealed objects with identities (private keys).
type Opener struct {
	identities []age.Identity
}

// ErrNoIdentity is returned when sealed objects must be read and no identity
// file was given.
var ErrNoIdentity = errors.New("the offsite copies are encrypted and no private key was given: set BACKUP_AGE_IDENTITY_FILE to the age identity file (AGE-SECRET-KEY-...) that matches BACKUP_AGE_RECIPIENTS")

// LoadIdentities reads an age identity file (as age-keygen writes it).
// path "" gives an Opener that opens only plain objects.
func LoadIdentities(path string) (*Opener, error) {
	if path == "" {
		return &Opener{}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read the age identity file (BACKUP_AGE_IDENTITY_FILE): %w", err)
	}
	defer f.Close()
	ids, err := age.ParseIdentities(f)
	if err != nil {
		// The error text of age never quotes key material.
		return nil, fmt.Errorf("the age identity file %s (BACKUP_AGE_IDENTITY_FILE) holds no usable private key: %w", path, err)
	}
	return &Opener{identities: ids}, nil
}

// Open returns the plaintext of an object. sealed says whether the object
// was sealed (the backup's index records it).
func (o *Opener) Open(r io.Reader, sealed bool) (io.Reader, error) {
	if !sealed {
		return r, nil
	}
	if len(o.identities) == 0 {
		return nil, ErrNoIdentity
	}
	pr, err := age.Decrypt(r, o.identities...)
	if err != nil {
		var nm *age.NoIdentityMatchError
		if errors.As(err, &nm) {
			return nil, fmt.Errorf("the private key in BACKUP_AGE_IDENTITY_FILE does not match any recipient the copy was encrypted to: %w", err)
		}
		return nil, fmt.Errorf("decrypt: %w", err)
	}
	return pr, nil
}

// CanOpen reports whether identities were loaded.
func (o *Opener) CanOpen() bool { return len(o.identities) > 0 }

// Matches reports whether the opener can open what s seals: it seals a
// probe and opens it.
func (s *Sealer) Matches(o *Opener) bool {
	var buf bytes.Buffer
	w, err := s.Seal(&buf)
	if err != nil {
		return false
	}
	io.WriteString(w, "probe")
	if w.Close() != nil {
		return false
	}
	// Each recipient gets its own stanza; one identity opening the probe
	// shows it matches one of them.
	r, err := o.Open(&buf, true)
	if err != nil {
		return false
	}
	_, err = io.ReadAll(r)
	return err == nil
}
