package delivery

import (
	"context"
	"fmt"
	"strings"

	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/ent/serviceconnection"
	"github.com/cairnhq/cairn/internal/tasklib"
)

// Endpoints: a template input of an endpoint connection kind (tasklib.EndpointKinds: SSH,
// DOCKER_REGISTRY, KUBERNETES) names a service connection that the task deploys to. The
// definition names it literally (checked on save: it exists and is of the input's kind); the
// server resolves it when it sends the job, opens its secrets and sends them with that task
// only (TaskEndpoint, agentproto.Endpoint). The agent masks every secret of it, uses it in its
// runners (SSH) or exports it to the task's script as ENDPOINT_* variables, with a kubeconfig
// written to a file of its own (0600) that is removed when the task ends.

// endpointsCapability is the capability of agents that take a task's endpoint
// (agentproto.CapabilityEndpoints): a job with a task that names one demands it, so that an
// older agent, which would run the task without it, never gets the job.
const endpointsCapability = "agent.endpoints"

// TaskEndpoint is the service connection a task deploys to, secrets decrypted.
type TaskEndpoint struct {
	// Input is the task input that named the connection; Name and Kind are the connection's.
	Input, Name, Kind string
	// URL is the registry's (DOCKER_REGISTRY) or the cluster's (KUBERNETES); Registry the
	// registry's host[:port].
	URL, Registry      string
	Host               string
	Port               int
	Username, Password string
	PrivateKey         string
	HostKey            string
	TrustOnFirstUse    bool
	Kubeconfig         string
	KubeContext        string
	Namespace          string
	// Secrets are further values the agent masks: a kubeconfig's tokens, passwords and keys.
	Secrets []string
}

// endpointValue returns a template task's endpoint input (its key as written and the trimmed
// value) when the template has one and the task gives it.
func endpointValue(tpl *tasklib.Template, inputs map[string]string) (in tasklib.Input, key, value string, ok bool) {
	if tpl == nil {
		return tasklib.Input{}, "", "", false
	}
	in, ok = tpl.EndpointInput()
	if !ok {
		return tasklib.Input{}, "", "", false
	}
	for k, v := range inputs {
		if strings.EqualFold(k, in.Name) && strings.TrimSpace(v) != "" {
			return in, k, strings.TrimSpace(v), true
		}
	}
	return tasklib.Input{}, "", "", false
}

// validateEndpointInput checks, on save, that a task names its endpoint connection literally:
// the server resolves it when it sends the job, before any variable exists.
func validateEndpointInput(p *problems, f string, task spec.Task, tpl *tasklib.Template) {
	in, key, v, ok := endpointValue(tpl, task.Inputs)
	if ok && hasVariableReference(v) {
		p.add(f+".inputs."+key, "task %s: input %s names a %s service connection, not a $(variable) reference: the server sends the connection with the job", task.Name, in.Name, in.ConnectionKind)
	}
}

// taskEndpoint resolves the endpoint connection a task names into task.Endpoint. A refusal
// (a reference, a connection gone or of another kind, secrets that cannot be opened) is
// INVALID_INPUT naming the step's input.
func (e *Engine) taskEndpoint(ctx context.Context, f flatTask, task *AssignmentTask) error {
	in, key, name, ok := endpointValue(f.template, f.inputs)
	if !ok {
		return nil
	}
	invalid := func(format string, args ...any) error {
		return &Error{Code: CodeInvalidInput, Field: "inputs." + key, Message: fmt.Sprintf("task %s: input %s: ", f.Name, in.Name) + fmt.Sprintf(format, args...)}
	}
	if hasVariableReference(name) {
		return invalid("%q is a $(variable) reference; name the service connection", name)
	}
	c, err := e.client.ServiceConnection.Query().Where(serviceconnection.Name(name)).Only(ctx)
	if ent.IsNotFound(err) {
		return invalid("service connection %q no longer exists", name)
	}
	if err != nil {
		return fmt.Errorf("reading service connection %q: %w", name, err)
	}
	if string(c.Kind) != in.ConnectionKind {
		return invalid("service connection %q is %s; the input takes a %s connection", c.Name, describeKind(c.Kind), in.ConnectionKind)
	}
	open := func(what string, sealed []byte) (string, error) {
		if len(sealed) == 0 {
			return "", nil
		}
		if e.secrets == nil {
			return "", invalid("the %s of service connection %q cannot be decrypted: the server has no secret key", what, c.Name)
		}
		b, err := e.secrets.Open(sealed)
		if err != nil {
			return "", invalid("the %s of service connection %q cannot be decrypted (was the secret key changed?): %v", what, c.Name, err)
		}
		return string(b), nil
	}
	ep := &TaskEndpoint{Input: in.Name, Name: c.Name, Kind: string(c.Kind), URL: c.URL, Username: c.Username}
	if ep.Password, err = open("secret", c.SecretEncrypted); err != nil {
		return err
	}
	switch c.Kind {
	case serviceconnection.KindSSH:
		ep.Host, ep.Port, ep.HostKey, ep.TrustOnFirstUse = c.Host, c.Port, c.HostKey, c.TrustOnFirstUse
		if ep.Port == 0 {
			ep.Port = 22
		}
		if ep.PrivateKey, err = open("private key", c.PrivateKeyEncrypted); err != nil {
			return err
		}
	case serviceconnection.KindDOCKER_REGISTRY:
		ep.Registry = RegistryHost(c.URL)
	case serviceconnection.KindKUBERNETES:
		ep.KubeContext, ep.Namespace = c.KubeContext, c.Namespace
		if ep.Kubeconfig, err = open("kubeconfig", c.KubeconfigEncrypted); err != nil {
			return err
		}
		ep.Secrets = kubeconfigSecrets(ep.Kubeconfig)
	}
	task.Endpoint = ep
	return nil
}

// usesEndpoint reports whether a job's flattened task names an endpoint connection.
func usesEndpoint(f flatTask) bool {
	_, _, _, ok := endpointValue(f.template, f.inputs)
	return ok
}
