package delivery

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/artifactsource"
	"github.com/cairnhq/cairn/ent/serviceconnection"
)

// maxSecretLen bounds a connection secret (API tokens and passwords are far
// shorter; the bound only stops abuse).
const maxSecretLen = 4096

// ConnectionInput describes a new service connection. Secret, WebhookSecret, PrivateKey and
// Kubeconfig are write-only: nil or empty means none. Which fields a kind takes: connkinds.go.
type ConnectionInput struct {
	Name          string
	Kind          serviceconnection.Kind
	URL           string
	Username      string
	Secret        *string
	WebhookSecret *string
	// SSH.
	Host            string
	Port            int
	HostKey         string
	TrustOnFirstUse bool
	PrivateKey      *string
	// KUBERNETES.
	Kubeconfig  *string
	KubeContext string
	Namespace   string
}

// ConnectionPatch changes some fields of a service connection. Nil fields are
// kept; for Secret, WebhookSecret, PrivateKey and Kubeconfig an empty string clears
// it. The kind cannot change: artifact sources and tasks depend on it.
type ConnectionPatch struct {
	Name            *string
	URL             *string
	Username        *string
	Secret          *string
	WebhookSecret   *string
	Host            *string
	Port            *int
	HostKey         *string
	TrustOnFirstUse *bool
	PrivateKey      *string
	Kubeconfig      *string
	KubeContext     *string
	Namespace       *string
}

// connectionAudit is the audited view of a connection: whether it has
// secrets, never their values.
type connectionAudit struct {
	Name             string `json:"name"`
	Kind             string `json:"kind"`
	URL              string `json:"url"`
	Username         string `json:"username"`
	HasSecret        bool   `json:"hasSecret"`
	HasWebhookSecret bool   `json:"hasWebhookSecret"`
	Host             string `json:"host,omitempty"`
	Port             int    `json:"port,omitempty"`
	HostKey          string `json:"hostKey,omitempty"`
	TrustOnFirstUse  bool   `json:"trustOnFirstUse,omitempty"`
	HasPrivateKey    bool   `json:"hasPrivateKey,omitempty"`
	HasKubeconfig    bool   `json:"hasKubeconfig,omitempty"`
	KubeContext      string `json:"kubeContext,omitempty"`
	Namespace        string `json:"namespace,omitempty"`
}

func auditConnection(c *ent.ServiceConnection) connectionAudit {
	return connectionAudit{
		Name: c.Name, Kind: string(c.Kind), URL: c.URL, Username: c.Username,
		HasSecret: len(c.SecretEncrypted) > 0, HasWebhookSecret: len(c.WebhookSecretEncrypted) > 0,
		Host: c.Host, Port: c.Port, HostKey: c.HostKey, TrustOnFirstUse: c.TrustOnFirstUse,
		HasPrivateKey: len(c.PrivateKeyEncrypted) > 0, HasKubeconfig: len(c.KubeconfigEncrypted) > 0,
		KubeContext: c.KubeContext, Namespace: c.Namespace,
	}
}

// CreateConnection adds a service connection, checked against its kind (connkinds.go), sealing
// its secrets. Only an ADMIN may.
func (e *Engine) CreateConnection(ctx context.Context, actor Actor, in ConnectionInput) (*ent.ServiceConnection, error) {
	if err := actor.Require(RoleAdmin, "creating a service connection"); err != nil {
		return nil, err
	}
	name, err := validateConnectionName(in.Name)
	if err != nil {
		return nil, err
	}
	f := connFields{
		Kind: in.Kind, URL: in.URL, Username: in.Username,
		HasSecret: deref(in.Secret) != "", HasWebhook: deref(in.WebhookSecret) != "",
		Host: in.Host, Port: in.Port, HostKey: in.HostKey, TrustOnFirstUse: in.TrustOnFirstUse,
		PrivateKey: deref(in.PrivateKey), HasPrivateKey: deref(in.PrivateKey) != "",
		Kubeconfig: deref(in.Kubeconfig), KubeContext: in.KubeContext, Namespace: in.Namespace,
		setURL: true, setPrvKey: true,
	}
	if err := checkConnection(&f); err != nil {
		return nil, err
	}
	secret, err := e.sealSecret("secret", in.Secret)
	if err != nil {
		return nil, err
	}
	webhookSecret, err := e.sealSecret("webhookSecret", in.WebhookSecret)
	if err != nil {
		return nil, err
	}
	privateKey, err := e.sealField("privateKey", f.PrivateKey, maxPrivateKeyLen)
	if err != nil {
		return nil, err
	}
	kubeconfig, err := e.sealField("kubeconfig", f.Kubeconfig, maxKubeconfigLen)
	if err != nil {
		return nil, err
	}
	var c *ent.ServiceConnection
	err = e.inTx(ctx, func(t *txn) error {
		if err := t.requireConnectionNameFree(name, 0); err != nil {
			return err
		}
		create := t.ServiceConnection.Create().SetName(name).SetKind(f.Kind).SetURL(f.URL).
			SetUsername(f.Username).SetHost(f.Host).SetPort(f.Port).SetHostKey(f.HostKey).
			SetTrustOnFirstUse(f.TrustOnFirstUse).SetKubeContext(f.KubeContext).SetNamespace(f.Namespace).
			SetCreatedAt(t.now).SetUpdatedAt(t.now)
		if secret != nil {
			create.SetSecretEncrypted(secret)
		}
		if webhookSecret != nil {
			create.SetWebhookSecretEncrypted(webhookSecret)
		}
		if privateKey != nil {
			create.SetPrivateKeyEncrypted(privateKey)
		}
		if kubeconfig != nil {
			create.SetKubeconfigEncrypted(kubeconfig)
		}
		if c, err = create.Save(ctx); err != nil {
			return err
		}
		return t.audit(actor, "connection.create", auditTargetConnection, c.ID, nil, auditConnection(c))
	})
	if err != nil {
		return nil, fmt.Errorf("creating service connection %q: %w", in.Name, err)
	}
	return c, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// UpdateConnection changes a service connection; the result is checked against its kind as a
// whole. Only an ADMIN may.
func (e *Engine) UpdateConnection(ctx context.Context, actor Actor, id int, p ConnectionPatch) (*ent.ServiceConnection, error) {
	if err := actor.Require(RoleAdmin, "updating a service connection"); err != nil {
		return nil, err
	}
	var (
		name                  string
		secret, webhookSecret []byte
		err                   error
	)
	if p.Name != nil {
		if name, err = validateConnectionName(*p.Name); err != nil {
			return nil, err
		}
	}
	if secret, err = e.sealSecret("secret", p.Secret); err != nil {
		return nil, err
	}
	if webhookSecret, err = e.sealSecret("webhookSecret", p.WebhookSecret); err != nil {
		return nil, err
	}
	var c *ent.ServiceConnection
	err = e.inTx(ctx, func(t *txn) error {
		old, err := t.ServiceConnection.Get(ctx, id)
		if ent.IsNotFound(err) {
			return NotFound("service connection", id)
		}
		if err != nil {
			return err
		}
		f := fieldsOf(old)
		if p.URL != nil {
			f.URL, f.setURL = *p.URL, true
		}
		if p.Username != nil {
			f.Username = *p.Username
		}
		if p.Secret != nil {
			f.HasSecret = *p.Secret != ""
		}
		if p.WebhookSecret != nil {
			f.HasWebhook = *p.WebhookSecret != ""
		}
		if p.Host != nil {
			f.Host = *p.Host
		}
		if p.Port != nil {
			f.Port = *p.Port
		}
		if p.HostKey != nil {
			f.HostKey = *p.HostKey
		}
		if p.TrustOnFirstUse != nil {
			f.TrustOnFirstUse = *p.TrustOnFirstUse
		}
		if p.PrivateKey != nil {
			f.PrivateKey, f.HasPrivateKey, f.setPrvKey = *p.PrivateKey, *p.PrivateKey != "", true
		}
		if p.KubeContext != nil {
			f.KubeContext = *p.KubeContext
		}
		if p.Namespace != nil {
			f.Namespace = *p.Namespace
		}
		switch {
		case p.Kubeconfig != nil:
			f.Kubeconfig = *p.Kubeconfig
		case len(old.KubeconfigEncrypted) > 0:
			if f.Kubeconfig, err = e.openSecret(old.KubeconfigEncrypted); err != nil {
				return fmt.Errorf("opening the kubeconfig of service connection %d: %w", id, err)
			}
		}
		if err := checkConnection(&f); err != nil {
			return err
		}
		upd := old.Update().SetUpdatedAt(t.now).SetURL(f.URL).SetUsername(f.Username).SetHost(f.Host).
			SetPort(f.Port).SetHostKey(f.HostKey).SetTrustOnFirstUse(f.TrustOnFirstUse).
			SetKubeContext(f.KubeContext).SetNamespace(f.Namespace)
		if p.Name != nil {
			if err := t.requireConnectionNameFree(name, id); err != nil {
				return err
			}
			upd.SetName(name)
		}
		switch {
		case p.Secret == nil:
		case secret == nil:
			upd.ClearSecretEncrypted()
		default:
			upd.SetSecretEncrypted(secret)
		}
		switch {
		case p.WebhookSecret == nil:
		case webhookSecret == nil:
			upd.ClearWebhookSecretEncrypted()
		default:
			upd.SetWebhookSecretEncrypted(webhookSecret)
		}
		if p.PrivateKey != nil {
			sealed, err := e.sealField("privateKey", f.PrivateKey, maxPrivateKeyLen)
			if err != nil {
				return err
			}
			if sealed == nil {
				upd.ClearPrivateKeyEncrypted()
			} else {
				upd.SetPrivateKeyEncrypted(sealed)
			}
		}
		if p.Kubeconfig != nil {
			sealed, err := e.sealField("kubeconfig", f.Kubeconfig, maxKubeconfigLen)
			if err != nil {
				return err
			}
			if sealed == nil {
				upd.ClearKubeconfigEncrypted()
			} else {
				upd.SetKubeconfigEncrypted(sealed)
			}
		}
		if c, err = upd.Save(ctx); err != nil {
			return err
		}
		after := auditConnection(c)
		return t.audit(actor, "connection.update", auditTargetConnection, id, auditConnection(old), after)
	})
	if err != nil {
		return nil, fmt.Errorf("updating service connection %d: %w", id, err)
	}
	return c, nil
}

// DeleteConnection removes a service connection that no artifact source
// uses. Only an ADMIN may.
func (e *Engine) DeleteConnection(ctx context.Context, actor Actor, id int) error {
	if err := actor.Require(RoleAdmin, "deleting a service connection"); err != nil {
		return err
	}
	err := e.inTx(ctx, func(t *txn) error {
		old, err := t.ServiceConnection.Get(ctx, id)
		if ent.IsNotFound(err) {
			return NotFound("service connection", id)
		}
		if err != nil {
			return err
		}
		n, err := t.ArtifactSource.Query().Where(artifactsource.ConnectionID(id)).Count(ctx)
		if err != nil {
			return err
		}
		if n > 0 {
			return Conflict("service connection %s is used by %d artifact sources: remove them from their definitions first", old.Name, n)
		}
		if err := t.ServiceConnection.DeleteOne(old).Exec(ctx); err != nil {
			return err
		}
		return t.audit(actor, "connection.delete", auditTargetConnection, id, auditConnection(old), nil)
	})
	if err != nil {
		return fmt.Errorf("deleting service connection %d: %w", id, err)
	}
	return nil
}

// ConnectionSecrets returns a connection's username and opened secrets, for
// the engine's own use (webhook verification, CI API calls). It takes no
// actor: it must never be reachable from the API.
func (e *Engine) ConnectionSecrets(ctx context.Context, id int) (username, secret, webhookSecret string, err error) {
	c, err := e.client.ServiceConnection.Get(ctx, id)
	if ent.IsNotFound(err) {
		return "", "", "", NotFound("service connection", id)
	}
	if err != nil {
		return "", "", "", fmt.Errorf("reading service connection %d: %w", id, err)
	}
	if secret, err = e.openSecret(c.SecretEncrypted); err != nil {
		return "", "", "", fmt.Errorf("opening secret of service connection %d: %w", id, err)
	}
	if webhookSecret, err = e.openSecret(c.WebhookSecretEncrypted); err != nil {
		return "", "", "", fmt.Errorf("opening webhook secret of service connection %d: %w", id, err)
	}
	return c.Username, secret, webhookSecret, nil
}

// errNoSecretBox is returned when a secret must be sealed or opened but the
// server has no secret key configured.
var errNoSecretBox = errors.New("no secret key is configured on the server")

// sealSecret seals s; nil or empty gives nil (no secret).
func (e *Engine) sealSecret(field string, s *string) ([]byte, error) {
	if s == nil || *s == "" {
		return nil, nil
	}
	if len(*s) > maxSecretLen {
		return nil, Invalid(field, "is %d bytes long; the limit is %d", len(*s), maxSecretLen)
	}
	if e.secrets == nil {
		return nil, errNoSecretBox
	}
	return e.secrets.Seal([]byte(*s)), nil
}

func (e *Engine) openSecret(sealed []byte) (string, error) {
	if len(sealed) == 0 {
		return "", nil
	}
	if e.secrets == nil {
		return "", errNoSecretBox
	}
	b, err := e.secrets.Open(sealed)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

func (t *txn) requireConnectionNameFree(name string, self int) error {
	taken, err := t.ServiceConnection.Query().
		Where(serviceconnection.Name(name), serviceconnection.IDNEQ(self)).Exist(t.ctx)
	if err != nil {
		return fmt.Errorf("checking connection name: %w", err)
	}
	if taken {
		return Conflict("service connection name %q is taken", name)
	}
	return nil
}

func validateConnectionName(s string) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return "", Invalid("name", "is required")
	case len(s) > 100:
		return "", Invalid("name", "is %d bytes long; the limit is 100", len(s))
	case hasControl(s):
		return "", Invalid("name", "must not contain control characters")
	}
	return s, nil
}

// validateConnectionURL accepts absolute http(s) URLs without credentials:
// a password in the URL would be stored and shown in clear.
func validateConnectionURL(s string) (string, error) {
	s = strings.TrimSpace(s)
	if len(s) > 2000 {
		return "", Invalid("url", "is %d bytes long; the limit is 2000", len(s))
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
		return "", Invalid("url", "%q is not an absolute http:// or https:// URL", s)
	}
	if u.User != nil {
		return "", Invalid("url", "must not contain credentials: put them in username and secret")
	}
	if u.Fragment != "" || u.RawQuery != "" {
		return "", Invalid("url", "must not have a query or fragment: give the server's base URL")
	}
	return s, nil
}

func validateConnectionUsername(s string) (string, error) {
	s = strings.TrimSpace(s)
	if len(s) > 200 {
		return "", Invalid("username", "is %d bytes long; the limit is 200", len(s))
	}
	if hasControl(s) {
		return "", Invalid("username", "must not contain control characters")
	}
	return s, nil
}
