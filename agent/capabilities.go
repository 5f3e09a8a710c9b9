package agent

import (
	"runtime"
	"strconv"

	"github.com/cairnhq/cairn/agentproto"
	"github.com/cairnhq/cairn/internal/tasklib"
)

// azureOS is Azure Pipelines' Agent.OS value of a GOOS.
func azureOS(goos string) string {
	switch goos {
	case "windows":
		return "Windows_NT"
	case "darwin":
		return "Darwin"
	case "linux":
		return "Linux"
	}
	return goos
}

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
		// This agent takes a task's service connection endpoint (agentproto.Task.Endpoint).
		agentproto.CapabilityEndpoints: "1",
		// Azure's name and values for the operating system, which imported demands use
		// ("Agent.OS -equals Windows_NT"; the cmd shell demands it).
		"Agent.OS": azureOS(runtime.GOOS),
	}
	for name := range runners {
		caps[tasklib.RunnerCapability(name)] = "1"
	}
	for _, tool := range detectedTools {
		if p, err := lookPath(tool); err == nil {
			caps[tool] = p
		}
	}
	return caps
}
