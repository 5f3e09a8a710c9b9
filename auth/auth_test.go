package auth_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/cairnhq/cairn/auth"
	"github.com/cairnhq/cairn/delivery"
)

// principals is a table of known token ids; a revoked one answers as the
// engine does.
type principals map[string]delivery.Actor

func (p principals) PrincipalForToken(_ context.Context, jti string) (delivery.Actor, error) {
	if jti == "revoked" {
		return delivery.Actor{}, &delivery.Error{Code: delivery.CodeUnauthenticated, Message: "token revoked"}
	}
	a, ok := p[jti]
	if !ok {
		return delivery.Actor{}, &delivery.Error{Code: delivery.CodeUnauthenticated, Message: "unknown token"}
	}
	return a, nil
}

func newKeys(t *testing.T, now time.Time) *auth.Keys {
	t.Helper()
	seed := make([]byte, 32)
	rand.Read(seed)
	k, err := auth.NewKeys(seed, "", func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestAuthenticate(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	// A known (zero) seed, so the test can sign tokens the issuer would not.
	keys, err := auth.NewKeys(make([]byte, 32), "", func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	other := newKeys(t, now)
	a := &auth.Authenticator{Keys: keys, Principals: principals{
		"t1": {Username: "alice", Role: delivery.RoleAdmin},
		"t2": {Username: "bob", Role: delivery.RoleViewer},
	}}
	mustIssue := func(tok string, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	valid := mustIssue(keys.IssueAPIToken("alice", "t1", now.Add(time.Hour), nil))
	// A token signed with HS256 using the public key bytes as the HMAC secret:
	// the classic algorithm-confusion attack.
	pub := make([]byte, ed25519.PublicKeySize)
	hs := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{
		Issuer: "cairn", Subject: "alice", ID: "t1", Audience: jwt.ClaimStrings{"api"},
		ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)),
	})
	hsTok, _ := hs.SignedString(pub)
	none := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.RegisteredClaims{
		Issuer: "cairn", Subject: "alice", ID: "t1", Audience: jwt.ClaimStrings{"api"},
		ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)),
	})
	noneTok, _ := none.SignedString(jwt.UnsafeAllowNoneSignatureType)
	noExp, _ := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.RegisteredClaims{
		Issuer: "cairn", Subject: "alice", ID: "t1", Audience: jwt.ClaimStrings{"api"},
	}).SignedString(ed25519.NewKeyFromSeed(make([]byte, 32)))

	cases := []struct {
		name, header, wantErr, wantUser string
	}{
		{"valid", "Bearer " + valid, "", "alice"},
		{"lowercase scheme", "bearer " + valid, "", "alice"},
		{"no header", "", "missing credential", ""},
		{"basic scheme", "Basic YWxpY2U6cHc=", "missing credential", ""},
		{"garbage", "Bearer abc.def", "malformed", ""},
		{"expired", "Bearer " + mustIssue(keys.IssueAPIToken("alice", "t1", now.Add(-time.Hour), nil)), "expired", ""},
		{"agent audience", "Bearer " + mustIssue(keys.IssueAgentToken("alice", "t1", now.Add(time.Hour))), "audience", ""},
		{"other key", "Bearer " + mustIssue(other.IssueAPIToken("alice", "t1", now.Add(time.Hour), nil)), "signature", ""},
		{"HS256 confusion", "Bearer " + hsTok, "signature or algorithm", ""},
		{"alg none", "Bearer " + noneTok, "signature or algorithm", ""},
		{"no exp", "Bearer " + noExp, "required claim", ""},
		{"revoked", "Bearer " + mustIssue(keys.IssueAPIToken("alice", "revoked", now.Add(time.Hour), nil)), "revoked", ""},
		{"unknown jti", "Bearer " + mustIssue(keys.IssueAPIToken("alice", "nope", now.Add(time.Hour), nil)), "unknown token", ""},
		{"subject mismatch", "Bearer " + mustIssue(keys.IssueAPIToken("mallory", "t2", now.Add(time.Hour), nil)), "subject", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			actor, err := a.Authenticate(context.Background(), tc.header)
			if tc.wantUser != "" {
				if err != nil || actor.Username != tc.wantUser {
					t.Fatalf("got %v, %v; want %s", actor, err, tc.wantUser)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted: %+v", actor)
			}
			if delivery.CodeOf(err) != delivery.CodeUnauthenticated {
				t.Fatalf("code = %s, want UNAUTHENTICATED (%v)", delivery.CodeOf(err), err)
			}
			if tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %q does not mention %q", err, tc.wantErr)
			}
		})
	}
}

func TestMiddleware(t *testing.T) {
	now := time.Now()
	keys := newKeys(t, now)
	a := &auth.Authenticator{Keys: keys, Principals: principals{"t1": {Username: "alice", Role: delivery.RoleAdmin}}}
	h := a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		actor, ok := auth.ActorFrom(r.Context())
		if !ok {
			t.Error("no actor in context")
		}
		w.Write([]byte(actor.Username))
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()

	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "" {
		t.Fatalf("no token: status %d", resp.StatusCode)
	}
	tok, _ := keys.IssueAPIToken("alice", "t1", now.Add(time.Hour), nil)
	req, _ := http.NewRequest("GET", srv.URL, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("valid token: status %d", resp.StatusCode)
	}
}

func TestKeyFile(t *testing.T) {
	path := t.TempDir() + "/k"
	k1, err := auth.LoadOrCreateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := auth.LoadOrCreateKeyFile(path)
	if err != nil || string(k1) != string(k2) {
		t.Fatalf("key not stable: %v", err)
	}
	if _, err := auth.ParseKey("zz"); err == nil {
		t.Fatal("bad key accepted")
	}
}
