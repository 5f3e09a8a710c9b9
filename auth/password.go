package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Argon2id hashes passwords with argon2id (RFC 9106) into PHC strings,
// "$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>", so that stored hashes keep
// their own parameters when the defaults change. It implements
// delivery.PasswordHasher.
type Argon2id struct {
	// MemoryKiB, Iterations and Threads are the cost; zero values get
	// OWASP's recommended minimum: 19 MiB, 2 iterations, 1 thread.
	MemoryKiB  uint32
	Iterations uint32
	Threads    uint8
}

// Bounds of the parameters a stored hash may name: a hash planted in the
// database must not make a sign-in allocate gigabytes or spin for minutes.
const (
	argonSaltLen   = 16
	argonKeyLen    = 32
	maxArgonMemory = 256 * 1024 // KiB
	maxArgonTime   = 16
	maxArgonLanes  = 16
)

func (a Argon2id) params() (m, t uint32, p uint8) {
	m, t, p = a.MemoryKiB, a.Iterations, a.Threads
	if m == 0 {
		m = 19 * 1024
	}
	if t == 0 {
		t = 2
	}
	if p == 0 {
		p = 1
	}
	return m, t, p
}

// HashPassword returns the PHC string of password with a fresh random salt.
func (a Argon2id) HashPassword(password string) (string, error) {
	m, t, p := a.params()
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("generating salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, t, m, p, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, m, t, p,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// VerifyPassword reports whether password matches the PHC string hash, in
// constant time over the derived key. A malformed hash, or one whose
// parameters exceed sane bounds, is an error.
func (Argon2id) VerifyPassword(hash, password string) (bool, error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return false, errors.New("password hash is not an argon2id PHC string")
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, errors.New("password hash has an unsupported argon2 version")
	}
	var m, t uint32
	var p uint8
	if n, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || n != 3 {
		return false, errors.New("password hash has malformed parameters")
	}
	if m < 8 || m > maxArgonMemory || t < 1 || t > maxArgonTime || p < 1 || p > maxArgonLanes {
		return false, errors.New("password hash parameters are out of bounds")
	}
	b64 := base64.RawStdEncoding
	salt, err := b64.DecodeString(parts[4])
	if err != nil || len(salt) < 8 || len(salt) > 64 {
		return false, errors.New("password hash has a malformed salt")
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil || len(want) < 16 || len(want) > 64 {
		return false, errors.New("password hash has a malformed key")
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}
