package auth_test

import (
	"strings"
	"testing"

	"github.com/cairnhq/cairn/auth"
)

func TestArgon2idRoundTrip(t *testing.T) {
	h := auth.Argon2id{MemoryKiB: 64, Iterations: 1}
	hash, err := h.HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(hash, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("hash %q does not carry its parameters", hash)
	}
	other, _ := h.HashPassword("correct horse battery")
	if other == hash {
		t.Error("two hashes of one password are equal: the salt is not random")
	}
	for pw, want := range map[string]bool{"correct horse battery": true, "correct horse batterY": false, "": false} {
		ok, err := (auth.Argon2id{}).VerifyPassword(hash, pw) // parameters come from the hash
		if err != nil || ok != want {
			t.Errorf("VerifyPassword(%q) = %v, %v; want %v", pw, ok, err, want)
		}
	}
}

func TestArgon2idDefaultsAreOWASPs(t *testing.T) {
	hash, err := (auth.Argon2id{}).HashPassword("x")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(hash, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("default parameters: %q", hash)
	}
}

// TestArgon2idRefusesHostileHashes: a malformed hash, or one that would make a sign-in allocate
// gigabytes or spin for minutes, is an error and verifies nothing.
func TestArgon2idRefusesHostileHashes(t *testing.T) {
	good, _ := (auth.Argon2id{MemoryKiB: 64, Iterations: 1}).HashPassword("pw")
	parts := strings.Split(good, "$")
	salt, key := parts[4], parts[5]
	for name, hash := range map[string]string{
		"empty":         "",
		"bcrypt":        "$2a$10$abcdefghijklmnopqrstuu",
		"argon2i":       "$argon2i$v=19$m=64,t=1,p=1$" + salt + "$" + key,
		"old version":   "$argon2id$v=16$m=64,t=1,p=1$" + salt + "$" + key,
		"huge memory":   "$argon2id$v=19$m=4194304,t=1,p=1$" + salt + "$" + key,
		"many passes":   "$argon2id$v=19$m=64,t=1000,p=1$" + salt + "$" + key,
		"zero passes":   "$argon2id$v=19$m=64,t=0,p=1$" + salt + "$" + key,
		"many lanes":    "$argon2id$v=19$m=64,t=1,p=255$" + salt + "$" + key,
		"no params":     "$argon2id$v=19$$" + salt + "$" + key,
		"bad salt":      "$argon2id$v=19$m=64,t=1,p=1$!!!$" + key,
		"short key":     "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$AAAA",
		"extra field":   good + "$x",
		"missing field": "$argon2id$v=19$m=64,t=1,p=1$" + salt,
	} {
		ok, err := (auth.Argon2id{}).VerifyPassword(hash, "pw")
		if err == nil || ok {
			t.Errorf("%s: VerifyPassword = %v, %v; want an error", name, ok, err)
		}
	}
}
