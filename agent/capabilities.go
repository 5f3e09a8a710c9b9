package agent

import (
	"runtime"
	"strconv"

	"github.com/cairnhq/cairn/agentproto"
)

// detectedTools are the programs whose presence on PATH becomes a system capability (value: the
// program's path). Shells come first: tasks need them.
var detectedTools = []string{
	"bash", "sh", "pwsh",
	"git", "docker", "curl", "tar", "unzip", "python3", "node", "go", "java", "dotnet", "kubectl", "helm", "terraform",
}

// systemCapabilities returns what the agent detects about its machine: "os", "arch", "cpus", and
// one entry per tool found by lookPath.
func systemCapabilities(lookPath func(string) (string, error)) map[string]string {
	caps := map[string]string{
		"os":   runtime.GOOS,
		"arch": runtime.GOARCH,
		"cpus": strconv.Itoa(runtime.NumCPU()),
		// This agent evaluates task conditions (agentproto.Task.Condition).
		agentproto.CapabilityTasks: "1",
	}
	for _, tool := range detectedTools {
		if p, err := lookPath(tool); err == nil {
			caps[tool] = p
		}
	}
	return caps
}
