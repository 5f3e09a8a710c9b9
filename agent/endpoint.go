package agent

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/cairnhq/cairn/agentproto"
)

// endpointNames are the variables a script task gets for its endpoint (agentproto.Endpoint);
// every task with inputs gets all of them, empty without an endpoint, so that a job variable of
// the same name never passes for one.
var endpointNames = []string{
	"ENDPOINT_KIND", "ENDPOINT_NAME", "ENDPOINT_URL", "ENDPOINT_REGISTRY", "ENDPOINT_HOST", "ENDPOINT_PORT",
	"ENDPOINT_USERNAME", "ENDPOINT_PASSWORD", "ENDPOINT_HOSTKEY", "ENDPOINT_PRIVATEKEYFILE",
	"ENDPOINT_KUBECONFIG", "ENDPOINT_KUBECONTEXT", "ENDPOINT_NAMESPACE",
}

// endpointEnv returns the environment entries of a script task's endpoint, writing its files
// (kubeconfig, private key: mode 0600; DOCKER_CONFIG: an empty directory of mode 0700) into a
// directory of the task's own under tmpDir. remove deletes them; call it when the task ends,
// also after an error.
func endpointEnv(t agentproto.Task, tmpDir string, step int) (env []string, remove func(), err error) {
	values := map[string]string{}
	for _, n := range endpointNames {
		values[n] = ""
	}
	remove = func() {}
	ep := t.Endpoint
	if ep != nil {
		dir := filepath.Join(tmpDir, fmt.Sprintf("endpoint%d", step))
		os.RemoveAll(dir)
		if err := os.Mkdir(dir, 0o700); err != nil {
			return nil, remove, fmt.Errorf("preparing the endpoint of service connection %s: %w", ep.Name, err)
		}
		remove = func() { os.RemoveAll(dir) }
		write := func(name, content string) (string, error) {
			p := filepath.Join(dir, name)
			f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
			if err != nil {
				return "", fmt.Errorf("writing the %s of service connection %s: %w", name, ep.Name, err)
			}
			if _, err := f.WriteString(content); err != nil {
				f.Close()
				return "", fmt.Errorf("writing the %s of service connection %s: %w", name, ep.Name, err)
			}
			return p, f.Close()
		}
		values["ENDPOINT_KIND"], values["ENDPOINT_NAME"], values["ENDPOINT_URL"] = ep.Kind, ep.Name, ep.URL
		values["ENDPOINT_USERNAME"], values["ENDPOINT_PASSWORD"] = ep.Username, ep.Password
		switch ep.Kind {
		case agentproto.EndpointSSH:
			values["ENDPOINT_HOST"], values["ENDPOINT_HOSTKEY"] = ep.Host, ep.HostKey
			values["ENDPOINT_PORT"] = strconv.Itoa(ep.Port)
			if ep.PrivateKey != "" {
				if values["ENDPOINT_PRIVATEKEYFILE"], err = write("id", ep.PrivateKey); err != nil {
					return nil, remove, err
				}
			}
		case agentproto.EndpointDockerRegistry:
			values["ENDPOINT_REGISTRY"] = ep.Registry
			cfg := filepath.Join(dir, "docker")
			if err := os.Mkdir(cfg, 0o700); err != nil {
				return nil, remove, fmt.Errorf("preparing the docker configuration of service connection %s: %w", ep.Name, err)
			}
			env = append(env, "DOCKER_CONFIG="+cfg)
		case agentproto.EndpointKubernetes:
			values["ENDPOINT_KUBECONTEXT"], values["ENDPOINT_NAMESPACE"] = ep.KubeContext, ep.Namespace
			if values["ENDPOINT_KUBECONFIG"], err = write("kubeconfig", ep.Kubeconfig); err != nil {
				return nil, remove, err
			}
		default:
			return nil, remove, fmt.Errorf("service connection %s is of kind %q, which this agent does not know", ep.Name, ep.Kind)
		}
	}
	for _, n := range endpointNames {
		env = append(env, n+"="+values[n])
	}
	return env, remove, nil
}
