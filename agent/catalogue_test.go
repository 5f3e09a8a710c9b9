package agent

import (
	"archive/zip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/cairnhq/cairn/agentproto"
	"github.com/cairnhq/cairn/internal/tasklib"
)

// builtinTask returns the assignment task that runs built-in template name with inputs, as the
// server sends it.
func builtinTask(t *testing.T, name string, inputs map[string]string) agentproto.Task {
	t.Helper()
	for _, tpl := range tasklib.Builtins() {
		if tpl.Name == name {
			env, secret := tasklib.InputEnv(&tpl, inputs, func(string) (string, bool) { return "", false })
			return agentproto.Task{Name: name, Shell: tpl.Shell, Script: tpl.Script, Runner: tpl.Runner, Inputs: env, SecretInputs: secret}
		}
	}
	t.Fatalf("no built-in %s", name)
	return agentproto.Task{}
}

// tree lists the regular files under dir with their contents.
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			data, _ := os.ReadFile(p)
			rel, _ := filepath.Rel(dir, p)
			out[rel] = string(data)
		}
		return nil
	})
	return out
}

func keys(m map[string]string) []string {
	k := make([]string, 0, len(m))
	for s := range m {
		k = append(k, s)
	}
	sort.Strings(k)
	return k
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestBuiltinScripts runs the script templates for real: inline and from a file, with inputs
// expanded from the job's variables at run time, a secret input masked.
func TestBuiltinScripts(t *testing.T) {
	t.Parallel()
	x := newTestExecutor(t)
	dir := t.TempDir()
	write(t, filepath.Join(dir, "deploy.sh"), "echo \"file script args=$1,$2 target=$TARGET\"\n")
	tasks := []agentproto.Task{
		builtinTask(t, "Bash", map[string]string{"script": "echo \"inline in $(pwd) target=$TARGET\"\nexit 0", "workingDirectory": dir}),
		builtinTask(t, "Bash", map[string]string{"targetType": "filePath", "filePath": "$(deploy.dir)/deploy.sh", "arguments": "'a b' c"}),
		builtinTask(t, "CmdLine", map[string]string{"script": "echo cmdline $TARGET"}),
		builtinTask(t, "ShellScript", map[string]string{"scriptPath": dir + "/deploy.sh", "args": "x y"}),
		builtinTask(t, "Bash", map[string]string{"script": "echo \"token is $TOKEN\"; exit 4"}),
	}
	tasks[4].ContinueOnError = true
	o := runJob(t, x, agentproto.JobAssignment{JobID: "scripts", SkipArtifactDownload: true, Tasks: tasks,
		Variables: []agentproto.Variable{{Name: "target", EnvName: "TARGET", Value: "web01"}, {Name: "deploy.dir", EnvName: "DEPLOY_DIR", Value: dir}}})
	for step, want := range map[int]string{1: "inline in " + dir + " target=web01", 2: "file script args=a b,c target=web01", 3: "cmdline web01", 4: "file script args=x,y target=web01"} {
		if !slices.Contains(o.text(step), want) {
			t.Errorf("step %d: log %q, want %q (%+v)", step, o.text(step), want, o.steps[step])
		}
	}
	if s := o.steps[5]; s.Status != agentproto.StepFailed || s.Reason != "exit code 4" {
		t.Errorf("failing inline script: %+v", s)
	}
	if o.finished.Status != agentproto.JobPartiallySucceeded {
		t.Errorf("job %s (%s)", o.finished.Status, o.finished.Reason)
	}
}

// TestSecretInputMasked: a SECRET input's value is masked in the job's log.
func TestSecretInputMasked(t *testing.T) {
	t.Parallel()
	x := newTestExecutor(t)
	task := agentproto.Task{Name: "s", Shell: "bash", Script: `echo "pw=$INPUT_PASSWORD"`,
		Inputs: map[string]string{"INPUT_PASSWORD": "$(db.password)"}, SecretInputs: []string{"INPUT_PASSWORD"}}
	o := runJob(t, x, agentproto.JobAssignment{JobID: "secret-input", SkipArtifactDownload: true, Tasks: []agentproto.Task{task},
		Variables: []agentproto.Variable{{Name: "db.password", EnvName: "DB_PASSWORD", Value: "pa55-word"}}})
	if !slices.Contains(o.text(1), "pw=***") {
		t.Errorf("log %q", o.text(1))
	}
}

// TestBuiltinPowerShell runs the PowerShell template where pwsh is installed.
func TestBuiltinPowerShell(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("pwsh"); err != nil {
		t.Skip("pwsh is not installed")
	}
	x := newTestExecutor(t)
	o := runJob(t, x, agentproto.JobAssignment{JobID: "pwsh", SkipArtifactDownload: true, Tasks: []agentproto.Task{
		builtinTask(t, "PowerShell", map[string]string{"script": "Write-Output \"pwsh $env:TARGET\""})},
		Variables: []agentproto.Variable{{Name: "target", EnvName: "TARGET", Value: "web01"}}})
	if !slices.Contains(o.text(1), "pwsh web01") {
		t.Errorf("log %q %+v", o.text(1), o.steps[1])
	}
}

// TestBuiltinCopyFiles: globs, overwrite and flatten.
func TestBuiltinCopyFiles(t *testing.T) {
	t.Parallel()
	src, dst := t.TempDir(), t.TempDir()
	write(t, filepath.Join(src, "app/bin/app"), "binary")
	write(t, filepath.Join(src, "app/conf/app.config"), "config")
	write(t, filepath.Join(src, "app/conf/sub/extra.config"), "extra")
	write(t, filepath.Join(src, "app/readme.md"), "readme")
	write(t, filepath.Join(src, "name with space.txt"), "spaced")
	write(t, filepath.Join(dst, "keep/app/readme.md"), "old readme")
	x := newTestExecutor(t)
	o := runJob(t, x, agentproto.JobAssignment{JobID: "copy", SkipArtifactDownload: true, Tasks: []agentproto.Task{
		builtinTask(t, "CopyFiles", map[string]string{"SourceFolder": src, "Contents": "app/**/*.config\n app/readme.md \nname with space.txt", "TargetFolder": dst + "/keep"}),
		builtinTask(t, "CopyFiles", map[string]string{"SourceFolder": src, "Contents": "**/*.config", "TargetFolder": dst + "/flat", "flattenFolders": "true"}),
		builtinTask(t, "CopyFiles", map[string]string{"SourceFolder": src, "Contents": "app/readme.md", "TargetFolder": dst + "/over", "OverWrite": "true"}),
		builtinTask(t, "CopyFiles", map[string]string{"SourceFolder": src + "/missing", "TargetFolder": dst + "/x"}),
	}})
	got := tree(t, dst)
	want := map[string]string{
		"keep/app/conf/app.config": "config", "keep/app/conf/sub/extra.config": "extra", "keep/app/readme.md": "old readme",
		"keep/name with space.txt": "spaced", "flat/app.config": "config", "flat/extra.config": "extra", "over/app/readme.md": "readme",
	}
	if strings.Join(keys(got), ",") != strings.Join(keys(want), ",") {
		t.Fatalf("files %v, want %v (logs %q %q)", keys(got), keys(want), o.text(1), o.text(2))
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if s := o.steps[4]; s.Status != agentproto.StepFailed || s.ErrorCount != 1 {
		t.Errorf("missing source: %+v", s)
	}
}

// TestBuiltinExtractFiles: zip and tar.gz archives.
func TestBuiltinExtractFiles(t *testing.T) {
	t.Parallel()
	src, dst := t.TempDir(), t.TempDir()
	zf, err := os.Create(filepath.Join(src, "web.zip"))
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(zf)
	w, _ := zw.Create("site/index.html")
	w.Write([]byte("<h1>hi</h1>"))
	zw.Close()
	zf.Close()
	write(t, filepath.Join(src, "t/conf/app.yaml"), "a: 1")
	if out, err := exec.Command("tar", "-czf", filepath.Join(src, "conf.tar.gz"), "-C", filepath.Join(src, "t"), "conf").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v %s", err, out)
	}
	x := newTestExecutor(t)
	o := runJob(t, x, agentproto.JobAssignment{JobID: "extract", SkipArtifactDownload: true, Tasks: []agentproto.Task{
		builtinTask(t, "ExtractFiles", map[string]string{"archiveFilePatterns": src + "/*.zip\n" + src + "/*.tar.gz", "destinationFolder": dst}),
		builtinTask(t, "ExtractFiles", map[string]string{"archiveFilePatterns": src + "/*.rar", "destinationFolder": dst + "/none"}),
	}})
	got := tree(t, dst)
	if got["site/index.html"] != "<h1>hi</h1>" || got["conf/app.yaml"] != "a: 1" || len(got) != 2 {
		t.Errorf("extracted %v, log %q", got, o.text(1))
	}
	if s := o.steps[2]; s.Status != agentproto.StepFailed || !strings.Contains(s.Issues[0].Message, "no archive matched") {
		t.Errorf("no archive: %+v", s)
	}
}

// TestBuiltinReplaceTokens: #{NAME}# tokens take the release variables' values; a token without
// a variable warns, or fails the task when asked.
func TestBuiltinReplaceTokens(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write(t, filepath.Join(dir, "app/web.config"), "<add key=\"db\" value=\"#{Db.Host}#\"/>\n<add value=\"#{ port }#|#{missing}#\"/>\n")
	write(t, filepath.Join(dir, "app/other.txt"), "#{Db.Host}#")
	write(t, filepath.Join(dir, "strict/x.config"), "#{nope}#")
	x := newTestExecutor(t)
	o := runJob(t, x, agentproto.JobAssignment{JobID: "tokens", SkipArtifactDownload: true,
		Variables: []agentproto.Variable{{Name: "Db.Host", EnvName: "DB_HOST", Value: "db.internal&co/1"}, {Name: "port", EnvName: "PORT", Value: "5432"}},
		Tasks: []agentproto.Task{
			builtinTask(t, "ReplaceTokens", map[string]string{"rootDirectory": dir + "/app"}),
			builtinTask(t, "ReplaceTokens", map[string]string{"rootDirectory": dir + "/strict", "missingVariable": "fail"}),
		}})
	got := tree(t, dir)
	if want := "<add key=\"db\" value=\"db.internal&co/1\"/>\n<add value=\"5432|#{missing}#\"/>\n"; got["app/web.config"] != want {
		t.Errorf("web.config = %q, want %q (log %q)", got["app/web.config"], want, o.text(1))
	}
	if got["app/other.txt"] != "#{Db.Host}#" {
		t.Errorf("a file outside the patterns changed: %q", got["app/other.txt"])
	}
	if s := o.steps[1]; s.Status != agentproto.StepSucceeded || s.WarningCount != 1 {
		t.Errorf("step 1 %+v", s)
	}
	if s := o.steps[2]; s.Status != agentproto.StepFailed {
		t.Errorf("step 2 %+v, log %q", s, o.text(2))
	}
}
