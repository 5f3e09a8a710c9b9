package delivery

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/serviceconnection"
	"go.yaml.in/yaml/v3"
	"golang.org/x/crypto/ssh"
)

// Service connection kinds and the fields each takes. JENKINS and AZURE_DEVOPS are CI servers
// (url, username, secret, webhookSecret); the others are endpoints that tasks deploy to, which
// the server resolves when it sends a job (taskEndpoint) and the agent uses for that task only:
//
//   - SSH: host, port (0: 22), username, a private key and/or a password (secret), and the
//     host keys to accept (hostKey) or trustOnFirstUse.
//   - DOCKER_REGISTRY: url (the registry), username and secret.
//   - KUBERNETES: a kubeconfig, the context to use (kubeContext, else its current-context) and a
//     default namespace; url is read from the kubeconfig, for display.
//
// Every check runs on the connection as it will be stored (on update: the stored fields with
// the patch applied), and refuses with INVALID_INPUT naming the field.

// Size bounds of the connection's larger write-only values.
const (
	maxPrivateKeyLen = 16 << 10
	maxKubeconfigLen = 256 << 10
	maxHostKeyLen    = 16 << 10
)

// connFields are a connection's kind-specific fields as they will be stored. PrivateKey and
// Kubeconfig are plaintext: given in the request, or (Kubeconfig, on update) the stored one
// opened, since its contexts are checked against kubeContext.
type connFields struct {
	Kind                   serviceconnection.Kind
	URL, Username          string
	HasSecret, HasWebhook  bool
	Host                   string
	Port                   int
	HostKey                string
	TrustOnFirstUse        bool
	PrivateKey             string
	HasPrivateKey          bool
	Kubeconfig             string
	KubeContext, Namespace string
	// setURL and setPrvKey: given in this request (a CI kind's url and a private key are
	// checked only then: stored ones passed when they were given).
	setURL, setPrvKey bool
}

// isCIKind reports whether kind is a CI server that artifacts come from.
func isCIKind(k serviceconnection.Kind) bool {
	return k == serviceconnection.KindJENKINS || k == serviceconnection.KindAZURE_DEVOPS
}

// connectionKinds lists the kinds for messages.
const connectionKinds = "JENKINS, AZURE_DEVOPS, SSH, DOCKER_REGISTRY or KUBERNETES"

// checkConnection checks f against its kind and normalises it in place.
func checkConnection(f *connFields) error {
	if err := serviceconnection.KindValidator(f.Kind); err != nil {
		return Invalid("kind", "%q is not a connection kind: use %s", f.Kind, connectionKinds)
	}
	var err error
	if f.Username, err = validateConnectionUsername(f.Username); err != nil {
		return err
	}
	// notFor refuses a field the kind does not use.
	notFor := func(field string, given bool, usedBy string) error {
		if given {
			return Invalid(field, "is for %s connections; a %s connection has none", usedBy, f.Kind)
		}
		return nil
	}
	if f.Kind != serviceconnection.KindSSH {
		for _, c := range []struct {
			field string
			given bool
		}{{"host", f.Host != ""}, {"port", f.Port != 0}, {"hostKey", strings.TrimSpace(f.HostKey) != ""}, {"trustOnFirstUse", f.TrustOnFirstUse}, {"privateKey", f.HasPrivateKey}} {
			if err := notFor(c.field, c.given, "SSH"); err != nil {
				return err
			}
		}
	}
	if f.Kind != serviceconnection.KindKUBERNETES {
		for _, c := range []struct {
			field string
			given bool
		}{{"kubeconfig", f.Kubeconfig != ""}, {"kubeContext", f.KubeContext != ""}, {"namespace", f.Namespace != ""}} {
			if err := notFor(c.field, c.given, "KUBERNETES"); err != nil {
				return err
			}
		}
	}
	if !isCIKind(f.Kind) {
		if err := notFor("webhookSecret", f.HasWebhook, "JENKINS and AZURE_DEVOPS"); err != nil {
			return err
		}
	}
	switch f.Kind {
	case serviceconnection.KindJENKINS, serviceconnection.KindAZURE_DEVOPS:
		if strings.TrimSpace(f.URL) == "" {
			return Invalid("url", "is required: the server's base URL")
		}
		if f.setURL {
			if f.URL, err = validateConnectionURL(f.URL); err != nil {
				return err
			}
		}
	case serviceconnection.KindSSH:
		return checkSSHConnection(f)
	case serviceconnection.KindDOCKER_REGISTRY:
		if f.URL, err = registryURL(f.URL); err != nil {
			return err
		}
		if f.Username == "" {
			return Invalid("username", "is required: the registry user (docker login --username)")
		}
		if !f.HasSecret {
			return Invalid("secret", "is required: the registry password or token (docker login --password-stdin)")
		}
	case serviceconnection.KindKUBERNETES:
		if f.Username != "" {
			return Invalid("username", "a KUBERNETES connection has no username: its kubeconfig holds the credentials")
		}
		if f.HasSecret {
			return Invalid("secret", "a KUBERNETES connection has no secret: its kubeconfig holds the credentials")
		}
		if f.setURL && strings.TrimSpace(f.URL) != "" {
			return Invalid("url", "a KUBERNETES connection's url is read from its kubeconfig (the context's cluster server)")
		}
		return checkKubernetesConnection(f)
	}
	return nil
}

func checkSSHConnection(f *connFields) error {
	if f.setURL && strings.TrimSpace(f.URL) != "" {
		return Invalid("url", "an SSH connection has no url: give host and port")
	}
	f.URL = ""
	host, err := validateSSHHost(f.Host)
	if err != nil {
		return err
	}
	f.Host = host
	if f.Port < 0 || f.Port > 65535 {
		return Invalid("port", "%d is not a port number (1-65535; 0 or omitted: 22)", f.Port)
	}
	if f.Username == "" {
		return Invalid("username", "is required: the user to log in as")
	}
	if !f.HasPrivateKey && !f.HasSecret {
		return Invalid("privateKey", "an SSH connection needs a private key or a password (secret)")
	}
	if f.setPrvKey && f.PrivateKey != "" {
		if err := checkPrivateKey(f.PrivateKey); err != nil {
			return err
		}
	}
	keys, err := normaliseHostKeys(f.HostKey)
	if err != nil {
		return err
	}
	f.HostKey = keys
	switch {
	case keys == "" && !f.TrustOnFirstUse:
		return Invalid("hostKey", "is required unless trustOnFirstUse is set: the host's public key (ssh-keyscan prints it), as an authorized_keys or known_hosts line")
	case keys != "" && f.TrustOnFirstUse:
		return Invalid("trustOnFirstUse", "is for a host whose key is not pinned; this connection pins hostKey: clear one of them")
	}
	return nil
}

// validateSSHHost accepts a host name or an IP address (IPv6 with or without brackets).
func validateSSHHost(s string) (string, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		s = s[1 : len(s)-1]
	}
	switch {
	case s == "":
		return "", Invalid("host", "is required: the host name or address")
	case len(s) > 253:
		return "", Invalid("host", "is %d bytes long; the limit is 253", len(s))
	case net.ParseIP(s) != nil:
		return s, nil
	case !hostNameRe.MatchString(s):
		return "", Invalid("host", "%q is not a host name or IP address (give the port in port, the user in username)", truncateText(s, 80))
	}
	return s, nil
}

var hostNameRe = regexp.MustCompile(`^[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,62}))*\.?$`)

// checkPrivateKey accepts an unencrypted private key that x/crypto/ssh reads (the agent's
// client). A key behind a passphrase is refused: the connection seals the key itself.
func checkPrivateKey(key string) error {
	if len(key) > maxPrivateKeyLen {
		return Invalid("privateKey", "is %d bytes long; the limit is %d", len(key), maxPrivateKeyLen)
	}
	_, err := ssh.ParsePrivateKey([]byte(key))
	var pm *ssh.PassphraseMissingError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &pm):
		return Invalid("privateKey", "is protected by a passphrase: give it decrypted (ssh-keygen -p -N ''); the connection seals it at rest")
	default:
		// The parser's message never holds key material.
		return Invalid("privateKey", "is not a private key in OpenSSH or PEM form: %v", err)
	}
}

// normaliseHostKeys checks the pinned host keys, one a line (blank lines and # comments
// skipped): authorized_keys lines, known_hosts lines (without markers: @revoked and
// @cert-authority would read as a pin), or SHA256: fingerprints. It returns them trimmed.
func normaliseHostKeys(s string) (string, error) {
	if len(s) > maxHostKeyLen {
		return "", Invalid("hostKey", "is %d bytes long; the limit is %d", len(s), maxHostKeyLen)
	}
	var out []string
	for i, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		switch {
		case strings.HasPrefix(line, "@"):
			return "", Invalid("hostKey", "line %d: known_hosts markers (@revoked, @cert-authority) are not supported: give the host's keys", i+1)
		case strings.HasPrefix(line, "SHA256:"):
			if !sha256FingerprintRe.MatchString(line) {
				return "", Invalid("hostKey", "line %d: %q is not a SHA256: fingerprint (43 base64 characters)", i+1, truncateText(line, 60))
			}
		default:
			if _, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line)); err == nil {
				break
			}
			if _, _, _, _, _, err := ssh.ParseKnownHosts([]byte(line)); err == nil {
				break
			}
			return "", Invalid("hostKey", "line %d: %q is not an authorized_keys line (\"ssh-ed25519 AAAA…\"), a known_hosts line or a SHA256: fingerprint", i+1, truncateText(line, 60))
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n"), nil
}

var sha256FingerprintRe = regexp.MustCompile(`^SHA256:[A-Za-z0-9+/]{43}=?$`)

// registryURL normalises a registry: an http(s) URL, or host[:port] (https:// is assumed).
func registryURL(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", Invalid("url", "is required: the registry, e.g. https://registry.example.com or registry.example.com:5000 (Docker Hub: https://index.docker.io/v1/)")
	}
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := validateConnectionURL(s)
	if err != nil {
		return "", err
	}
	if pu, _ := url.Parse(u); pu == nil || strings.ContainsAny(pu.Host, " \t") {
		return "", Invalid("url", "%q is not a registry URL", u)
	}
	return u, nil
}

// RegistryHost is the host[:port] of a registry connection's URL: what docker login takes and
// what prefixes image names.
func RegistryHost(registryURL string) string {
	u, err := url.Parse(registryURL)
	if err != nil {
		return ""
	}
	return u.Host
}

// kubeconfig is the part of a kubeconfig that Cairn reads.
type kubeconfig struct {
	APIVersion     string `yaml:"apiVersion"`
	Kind           string `yaml:"kind"`
	CurrentContext string `yaml:"current-context"`
	Clusters       []struct {
		Name    string `yaml:"name"`
		Cluster struct {
			Server string `yaml:"server"`
		} `yaml:"cluster"`
	} `yaml:"clusters"`
	Contexts []kubeNamedContext `yaml:"contexts"`
	Users    []struct {
		Name string         `yaml:"name"`
		User map[string]any `yaml:"user"`
	} `yaml:"users"`
}

type kubeNamedContext struct {
	Name    string `yaml:"name"`
	Context struct {
		Cluster   string `yaml:"cluster"`
		User      string `yaml:"user"`
		Namespace string `yaml:"namespace"`
	} `yaml:"context"`
}

// parseKubeconfig reads a kubeconfig (YAML or JSON).
func parseKubeconfig(s string) (*kubeconfig, error) {
	var k kubeconfig
	if err := yaml.Unmarshal([]byte(s), &k); err != nil {
		return nil, err
	}
	return &k, nil
}

var namespaceRe = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

func checkKubernetesConnection(f *connFields) error {
	if strings.TrimSpace(f.Kubeconfig) == "" {
		return Invalid("kubeconfig", "is required: the cluster's kubeconfig (YAML or JSON)")
	}
	if len(f.Kubeconfig) > maxKubeconfigLen {
		return Invalid("kubeconfig", "is %d bytes long; the limit is %d", len(f.Kubeconfig), maxKubeconfigLen)
	}
	k, err := parseKubeconfig(f.Kubeconfig)
	if err != nil {
		// yaml's message quotes no more than a line number and a token.
		return Invalid("kubeconfig", "is not a kubeconfig: %s", truncateText(err.Error(), 200))
	}
	if k.Kind != "" && k.Kind != "Config" {
		return Invalid("kubeconfig", "is a %q document, not a kubeconfig (kind: Config)", truncateText(k.Kind, 40))
	}
	if len(k.Clusters) == 0 || len(k.Contexts) == 0 {
		return Invalid("kubeconfig", "is not a kubeconfig: it needs clusters and contexts")
	}
	f.KubeContext = strings.TrimSpace(f.KubeContext)
	if hasControl(f.KubeContext) || len(f.KubeContext) > 253 {
		return Invalid("kubeContext", "is not a context name")
	}
	name := f.KubeContext
	field := "kubeContext"
	if name == "" {
		name, field = k.CurrentContext, "kubeconfig"
		if name == "" {
			return Invalid("kubeContext", "is required: the kubeconfig has no current-context")
		}
	}
	ctx := slices.IndexFunc(k.Contexts, func(c kubeNamedContext) bool { return c.Name == name })
	if ctx < 0 {
		var names []string
		for _, c := range k.Contexts {
			names = append(names, c.Name)
		}
		return Invalid(field, "the kubeconfig has no context %q (its contexts: %s)", truncateText(name, 80), truncateText(strings.Join(names, ", "), 200))
	}
	cluster := k.Contexts[ctx].Context.Cluster
	server := ""
	for _, c := range k.Clusters {
		if c.Name == cluster {
			server = c.Cluster.Server
		}
	}
	if server == "" {
		return Invalid("kubeconfig", "context %q names cluster %q, which the kubeconfig does not have with a server", truncateText(name, 80), truncateText(cluster, 80))
	}
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return Invalid("kubeconfig", "cluster %q: server %q is not an http(s) URL without credentials", truncateText(cluster, 80), truncateText(server, 80))
	}
	f.URL = u.Scheme + "://" + u.Host + u.Path
	f.Namespace = strings.TrimSpace(f.Namespace)
	if f.Namespace != "" && !namespaceRe.MatchString(f.Namespace) {
		return Invalid("namespace", "%q is not a namespace name (lower-case letters, digits and -, at most 63)", truncateText(f.Namespace, 80))
	}
	return nil
}

// kubeconfigSecrets returns the values of a kubeconfig that the agent masks: its users' tokens,
// passwords, client keys and auth-provider settings.
func kubeconfigSecrets(s string) []string {
	k, err := parseKubeconfig(s)
	if err != nil {
		return nil
	}
	var out []string
	var walk func(key string, v any)
	walk = func(key string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, v := range x {
				walk(k, v)
			}
		case []any:
			for _, v := range x {
				walk(key, v)
			}
		case string:
			switch strings.ToLower(key) {
			case "token", "password", "client-key-data", "id-token", "refresh-token", "client-secret", "access-token", "value":
				if len(x) >= 4 {
					out = append(out, x)
				}
			}
		}
	}
	for _, u := range k.Users {
		walk("", u.User)
	}
	return out
}

// fieldsOf returns a stored connection's fields (secrets as flags only).
func fieldsOf(c *ent.ServiceConnection) connFields {
	return connFields{
		Kind: c.Kind, URL: c.URL, Username: c.Username,
		HasSecret: len(c.SecretEncrypted) > 0, HasWebhook: len(c.WebhookSecretEncrypted) > 0,
		Host: c.Host, Port: c.Port, HostKey: c.HostKey, TrustOnFirstUse: c.TrustOnFirstUse,
		HasPrivateKey: len(c.PrivateKeyEncrypted) > 0,
		KubeContext:   c.KubeContext, Namespace: c.Namespace,
	}
}

// sealField seals s under field's name; a value longer than limit is refused.
func (e *Engine) sealField(field, s string, limit int) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	if len(s) > limit {
		return nil, Invalid(field, "is %d bytes long; the limit is %d", len(s), limit)
	}
	if e.secrets == nil {
		return nil, errNoSecretBox
	}
	return e.secrets.Seal([]byte(s)), nil
}

// describeKind says what a kind is, for messages.
func describeKind(k serviceconnection.Kind) string {
	switch k {
	case serviceconnection.KindSSH:
		return "an SSH connection"
	case serviceconnection.KindDOCKER_REGISTRY:
		return "a DOCKER_REGISTRY connection"
	case serviceconnection.KindKUBERNETES:
		return "a KUBERNETES connection"
	}
	return fmt.Sprintf("a %s connection", k)
}
