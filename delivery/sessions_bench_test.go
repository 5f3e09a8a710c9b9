package delivery_test

import (
	"context"
	"testing"
	"time"

	"github.com/cairnhq/cairn/auth"
	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/storage/storagetest"
)

// The cost of authenticating one request by session cookie, beside the API token lookup it
// stands next to (the floor), and of a sign-in with production argon2id parameters, beside one
// bare hash verification. BENCHMARKS.md records a run.
//
//	go test -run '^$' -bench 'Principal|Login|Argon2' -benchtime 2s ./delivery/

func benchEngine(b *testing.B) (*delivery.Engine, int) {
	db := storagetest.Open(b, "sqlite")
	box, _ := delivery.NewSecretBox([]byte("0123456789abcdef0123456789abcdef"))
	e := delivery.New(db.Client, delivery.Options{Dialect: db.Dialect, Secrets: box, Passwords: auth.Argon2id{}})
	u, err := e.EnsureAdmin(context.Background(), "root")
	if err != nil {
		b.Fatal(err)
	}
	if _, err := e.SetPassword(context.Background(), delivery.SystemActor("bench"), u.ID, goodPassword); err != nil {
		b.Fatal(err)
	}
	return e, u.ID
}

func BenchmarkPrincipalForSession(b *testing.B) {
	e, _ := benchEngine(b)
	_, secret, err := e.Login(context.Background(), "root", goodPassword, delivery.SessionMeta{})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := e.PrincipalForSession(context.Background(), secret, time.Time{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPrincipalForTokenFloor(b *testing.B) {
	e, id := benchEngine(b)
	tok, err := e.CreateAPIToken(context.Background(), delivery.SystemActor("bench"), "bench", id, time.Hour, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := e.PrincipalForToken(context.Background(), tok.Jti, time.Time{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLogin(b *testing.B) {
	e, _ := benchEngine(b)
	b.ResetTimer()
	for b.Loop() {
		if _, _, err := e.Login(context.Background(), "root", goodPassword, delivery.SessionMeta{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLoginUnknownUser(b *testing.B) {
	e, _ := benchEngine(b)
	_, _, _ = e.Login(context.Background(), "nobody", goodPassword, delivery.SessionMeta{})
	b.ResetTimer()
	for b.Loop() {
		if _, _, err := e.Login(context.Background(), "nobody", goodPassword, delivery.SessionMeta{}); err == nil {
			b.Fatal("signed in")
		}
	}
}

func BenchmarkArgon2idVerifyFloor(b *testing.B) {
	h := auth.Argon2id{}
	hash, _ := h.HashPassword(goodPassword)
	for b.Loop() {
		if ok, _ := h.VerifyPassword(hash, goodPassword); !ok {
			b.Fatal("no match")
		}
	}
}
