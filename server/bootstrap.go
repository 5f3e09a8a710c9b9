package server

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/cairnhq/cairn/auth"
	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/storage"
)

// InitialAdminTokenFile is the file in the data directory that receives the first admin's
// token (mode 0600), as Jenkins' initialAdminPassword and Argo CD's initial admin secret do.
const InitialAdminTokenFile = "initial-admin-token"

// InitialAdminUsername is the user a new installation's first start creates.
const InitialAdminUsername = "admin"

// BootstrapFirstAdmin runs on every start without Dev. On a database without users it creates
// the ADMIN user "admin" and writes a token for it, valid for 24 hours, to
// DataDir/initial-admin-token (mode 0600), logging the path: the way into a new installation.
// Of replicas starting together on one PostgreSQL database exactly one does so (the engine
// decides in one locked transaction); the others, and later starts, log nothing unless the
// file is still there (a reminder to delete it). It returns the path written ("" if none).
func (s *Server) BootstrapFirstAdmin(ctx context.Context) (string, error) {
	path := filepath.Join(s.cfg.DataDir, InitialAdminTokenFile)
	created, err := s.Engine.BootstrapFirstAdmin(ctx, InitialAdminUsername, delivery.InitialAdminTokenLifetime)
	if err != nil {
		return "", err
	}
	if created == nil {
		if _, err := os.Stat(path); err == nil {
			s.log.Warn("the initial admin token file is still there: delete it once you have a token of your own", "path", path)
		}
		return "", nil
	}
	tok, err := s.Keys.IssueAPIToken(created.User.Username, created.Token.Jti, created.Token.ExpiresAt, nil)
	if err == nil {
		err = writeSecretFile(path, tok+"\n")
	}
	if err != nil {
		return "", fmt.Errorf("the first admin %q was created but its token could not be written (%w); "+
			"issue one with: server admin token --username %s", created.User.Username, err, created.User.Username)
	}
	s.log.Warn("created the first admin user; its one-time token is in the file given (valid 24 h): "+
		"log in with it, create a token of your own, revoke this one and delete the file",
		"user", created.User.Username, "path", path, "expires", created.Token.ExpiresAt.Format(time.RFC3339))
	return path, nil
}

// writeSecretFile writes content to path, readable by the owner only, replacing any file there
// (whose mode might be wider) rather than writing into it.
func writeSecretFile(path, content string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(content); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// AdminTokenRequest is what `server admin token` needs: the server's database and signing key
// (the same settings as the server's, so the token works on every replica), and the token.
type AdminTokenRequest struct {
	// DataDir, DatabaseURL and SigningKey are the server's (Config); the signing key is read
	// from DataDir/signing.key when not given, and never created.
	DataDir, DatabaseURL, SigningKey string
	// SecretKey and AuditKey are the server's (Config): the command's audit row joins the
	// server's keyed chain, so it needs the same audit key (derived from the secret key, read
	// from DataDir/secret.key when neither is given).
	SecretKey, AuditKey string
	// Username is the user to issue the token for; a name no user has creates an ADMIN.
	Username string
	// Name is the token's name (default "recovery token").
	Name string
	// Lifetime is the token's validity (default 24 h).
	Lifetime time.Duration
	// Operator names who ran the command (the operating-system user), for the audit log.
	Operator string
}

// AdminTokenResult is the signed token and what it is for.
type AdminTokenResult struct {
	Token     string
	Username  string
	Role      string
	Created   bool
	ExpiresAt time.Time
}

// IssueAdminToken opens the database directly (no running server needed) and issues a token
// for req.Username, creating the user as ADMIN if none has that name; it is audited as the
// command and its operator. It is the way back in when no admin can log in.
func IssueAdminToken(ctx context.Context, req AdminTokenRequest) (AdminTokenResult, error) {
	if req.DataDir == "" {
		req.DataDir = "./cairn-data"
	}
	var seed []byte
	var err error
	if req.SigningKey != "" {
		seed, err = auth.ParseKey(req.SigningKey)
	} else {
		var b []byte
		b, err = os.ReadFile(filepath.Join(req.DataDir, "signing.key"))
		if errors.Is(err, os.ErrNotExist) {
			return AdminTokenResult{}, fmt.Errorf("no signing key: give the server's --signing-key (CAIRN_SIGNING_KEY) or its --data-dir; %s does not exist",
				filepath.Join(req.DataDir, "signing.key"))
		}
		if err == nil {
			seed, err = auth.ParseKey(string(b))
		}
	}
	if err != nil {
		return AdminTokenResult{}, fmt.Errorf("loading signing key: %w", err)
	}
	keys, err := auth.NewKeys(seed, auth.DefaultIssuer, nil)
	if err != nil {
		return AdminTokenResult{}, err
	}
	db, err := storage.Open(ctx, req.DatabaseURL, req.DataDir, storage.MinPostgresConns)
	if err != nil {
		return AdminTokenResult{}, err
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		return AdminTokenResult{}, err
	}
	auditKey, err := adminAuditKey(req)
	if err != nil {
		return AdminTokenResult{}, err
	}
	engine := delivery.New(db.Client, delivery.Options{Dialect: db.Dialect, AuditKey: auditKey})
	actor := delivery.SystemActor("server admin token")
	if req.Operator != "" {
		actor = delivery.SystemActor(fmt.Sprintf("server admin token (run by %s)", req.Operator))
	}
	got, err := engine.RecoveryToken(ctx, actor, req.Username, req.Name, req.Lifetime)
	if err != nil {
		return AdminTokenResult{}, err
	}
	tok, err := keys.IssueAPIToken(got.User.Username, got.Token.Jti, got.Token.ExpiresAt, nil)
	if err != nil {
		return AdminTokenResult{}, err
	}
	return AdminTokenResult{Token: tok, Username: got.User.Username, Role: string(got.User.Role),
		Created: got.Created, ExpiresAt: got.Token.ExpiresAt}, nil
}

// adminAuditKey is the audit key the server uses (server.New): --audit-key, else derived from
// the secret key given or stored in the data directory. It is never created here.
func adminAuditKey(req AdminTokenRequest) ([]byte, error) {
	if req.AuditKey != "" {
		k, err := auth.ParseKey(req.AuditKey)
		if err != nil {
			return nil, fmt.Errorf("loading audit key: %w", err)
		}
		return k, nil
	}
	hexKey := req.SecretKey
	if hexKey == "" {
		b, err := os.ReadFile(filepath.Join(req.DataDir, "secret.key"))
		if err != nil {
			return nil, fmt.Errorf("no secret key to derive the audit key from: give the server's --secret-key (CAIRN_SECRET_KEY), --audit-key or its --data-dir: %w", err)
		}
		hexKey = string(b)
	}
	k, err := auth.ParseKey(hexKey)
	if err != nil {
		return nil, fmt.Errorf("loading secret key: %w", err)
	}
	return delivery.DeriveAuditKey(k), nil
}
