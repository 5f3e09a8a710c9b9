package azureclassic

import (
	"strings"
	"testing"
)

// TestImportEndpointTasks: Azure's SSH, Docker and Kubernetes tasks keep their service
// connection inputs (sshEndpoint, containerRegistry, kubernetesServiceConnection), mapped
// through mapping.serviceConnections to Cairn connections; an unmapped one needs input.
func TestImportEndpointTasks(t *testing.T) {
	m := Mapping{ServiceConnections: []ServiceConnection{
		{Azure: "0d5f8a3e-0000-4000-8000-000000000001", Connection: "web-hosts"},
		{Azure: "0d5f8a3e-0000-4000-8000-000000000002", Connection: "acr"},
	}}
	tasks := `[
		{"taskId": "91443475-df55-4874-944b-39253b558790", "version": "0.*", "name": "Restart", "enabled": true,
		 "inputs": {"sshEndpoint": "0d5f8a3e-0000-4000-8000-000000000001", "runOptions": "commands", "commands": "sudo systemctl restart web"}},
		{"taskId": "e28912f1-0114-4464-802a-a3a35437fd16", "version": "2.*", "name": "Push", "enabled": true,
		 "inputs": {"containerRegistry": "0d5f8a3e-0000-4000-8000-000000000002", "command": "push", "repository": "team/web"}},
		{"taskId": "91443475-df55-4874-944b-39253b558790", "version": "0.*", "name": "Unmapped", "enabled": true,
		 "inputs": {"sshEndpoint": "0d5f8a3e-0000-4000-8000-00000000000f", "commands": "uptime"}}]`
	r, phs := phasesOf(t, m, `[{"phaseType": 1, "name": "Agent job", "deploymentInput": {"queueId": 1}, "workflowTasks": `+tasks+`}]`)
	if len(phs) != 1 {
		t.Fatalf("phases %+v", phs)
	}
	restart, push := taskNamed(t, phs[0], "Restart"), taskNamed(t, phs[0], "Push")
	if restart.Uses != "SSH@0" || restart.Inputs["sshEndpoint"] != "web-hosts" || restart.Inputs["host"] != "" {
		t.Errorf("ssh %+v", restart)
	}
	if push.Uses != "Docker@2" || push.Inputs["containerRegistry"] != "acr" {
		t.Errorf("docker %+v", push)
	}
	var needs bool
	for _, f := range r.Findings {
		needs = needs || f.Status == NeedsInput && strings.Contains(f.Path, "workflowTasks[2].inputs.sshEndpoint")
	}
	if !needs {
		t.Errorf("the unmapped endpoint is not reported: %+v", r.Findings)
	}
}
