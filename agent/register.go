package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/cairnhq/cairn/agentproto"
)

// credentialFile is the name of the saved credential in the work directory.
const credentialFile = "credential.json"

// savedCredential is the content of credential.json.
type savedCredential struct {
	Server     string `json:"server"`
	AgentID    string `json:"agentId"`
	Name       string `json:"name"`
	Credential string `json:"credential"`
}

// ErrUnauthorized is returned by Run when the server refuses the agent's registration token or
// credential. Retrying with the same configuration cannot succeed.
var ErrUnauthorized = errors.New("unauthorized")

// noAnswerError is a registration that got no HTTP answer: it may be retried.
type noAnswerError struct{ err error }

func (e *noAnswerError) Error() string { return "registering: " + e.err.Error() }
func (e *noAnswerError) Unwrap() error { return e.err }

// loadCredential returns the saved credential, or ok false when there is none.
func loadCredential(workDir string) (savedCredential, bool, error) {
	data, err := os.ReadFile(filepath.Join(workDir, credentialFile))
	if errors.Is(err, os.ErrNotExist) {
		return savedCredential{}, false, nil
	}
	if err != nil {
		return savedCredential{}, false, fmt.Errorf("reading credential: %w", err)
	}
	var c savedCredential
	if err := json.Unmarshal(data, &c); err != nil || c.Credential == "" {
		return savedCredential{}, false, fmt.Errorf("credential file %s is invalid; delete it to register again", filepath.Join(workDir, credentialFile))
	}
	return c, true, nil
}

// SavedAgentID returns the agent id of the credential saved in workDir, and false when there is
// none. A server that runs its own agent (cairn --dev) uses it to tell a credential that belongs to
// another database (reset since) from a good one, before Run would be refused with it.
func SavedAgentID(workDir string) (string, bool, error) {
	c, ok, err := loadCredential(workDir)
	return c.AgentID, ok, err
}

// register exchanges the registration token for a credential and saves it.
func (r *runner) register(ctx context.Context) (savedCredential, error) {
	if r.cfg.Token == "" {
		return savedCredential{}, errors.New("no saved credential and no registration token: pass --token")
	}
	body, err := json.Marshal(agentproto.RegisterRequest{
		Token: r.cfg.Token, Name: r.cfg.Name, Pool: r.cfg.Pool, Capabilities: r.cfg.Capabilities,
		DeploymentGroup: r.cfg.DeploymentGroup, Tags: r.cfg.Tags,
		Version: r.cfg.Version, OS: runtime.GOOS, Arch: runtime.GOARCH,
	})
	if err != nil {
		return savedCredential{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.baseURL()+agentproto.RegisterPath, bytes.NewReader(body))
	if err != nil {
		return savedCredential{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := r.cfg.HTTPClient.Do(req)
	if err != nil {
		return savedCredential{}, &noAnswerError{err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, agentproto.MaxRegisterBodyBytes))
	if err != nil {
		return savedCredential{}, fmt.Errorf("registering: reading answer: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		msg := strings.TrimSpace(string(data))
		var e agentproto.RegisterError
		if json.Unmarshal(data, &e) == nil && e.Message != "" {
			msg = e.Message
		}
		err := fmt.Errorf("registering: %s: %s", resp.Status, msg)
		if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
			err = fmt.Errorf("%w: %w", ErrUnauthorized, err)
		}
		return savedCredential{}, err
	}
	var rr agentproto.RegisterResponse
	if err := json.Unmarshal(data, &rr); err != nil || rr.Credential == "" {
		return savedCredential{}, fmt.Errorf("registering: invalid answer %q", data)
	}
	c := savedCredential{Server: r.baseURL(), AgentID: rr.AgentID, Name: r.cfg.Name, Credential: rr.Credential}
	data, err = json.MarshalIndent(c, "", "  ")
	if err != nil {
		return savedCredential{}, err
	}
	if err := writeFileAtomic(filepath.Join(r.cfg.WorkDir, credentialFile), data); err != nil {
		return savedCredential{}, fmt.Errorf("saving credential: %w", err)
	}
	return c, nil
}
