package tasklib

import (
	"flag"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/tasks.md")

// TestCatalogueDocs: docs/tasks.md is the catalogue's generated documentation.
func TestCatalogueDocs(t *testing.T) {
	const path = "../../docs/tasks.md"
	want := Markdown(Builtins())
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatal("docs/tasks.md is stale: run go test ./internal/tasklib -update")
	}
}

// TestBuiltinsValid: every built-in passes the checks custom templates get.
func TestBuiltinsValid(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, b := range Builtins() {
		if p := Validate(&b); len(p) > 0 {
			t.Errorf("%s: %v", b.Ref(), p)
		}
		if seen[b.Ref()] {
			t.Errorf("%s twice", b.Ref())
		}
		seen[b.Ref()] = true
		if !strings.Contains(Doc(&b), b.Description) {
			t.Errorf("%s: docs lack the description", b.Ref())
		}
	}
}

func TestValidateInputs(t *testing.T) {
	t.Parallel()
	var copyFiles Template
	for _, b := range Builtins() {
		if b.Name == "CopyFiles" {
			copyFiles = b
		}
	}
	for _, tt := range []struct {
		inputs map[string]string
		want   string
	}{
		{map[string]string{"TargetFolder": "out"}, ""},
		{map[string]string{"targetfolder": "$(dir)", "OverWrite": "$(overwrite)"}, ""},
		{map[string]string{}, "inputs.TargetFolder: input TargetFolder of CopyFiles@2 is required"},
		{map[string]string{"TargetFolder": "x", "Overwrite": "maybe"}, "inputs.OverWrite: input OverWrite of CopyFiles@2 is BOOLEAN"},
		{map[string]string{"TargetFolder": "x", "Target": "y"}, `inputs.Target: CopyFiles@2 has no input "Target"`},
	} {
		var got []string
		for _, p := range ValidateInputs(&copyFiles, tt.inputs, nil) {
			got = append(got, p.Field+": "+p.Message)
		}
		joined := strings.Join(got, "; ")
		if tt.want == "" && joined != "" || tt.want != "" && !strings.Contains(joined, tt.want) {
			t.Errorf("%v: %q, want %q", tt.inputs, joined, tt.want)
		}
	}
	pick := Template{Name: "P", Version: "1.0", Shell: "bash", Script: "x", Inputs: []Input{{Name: "mode", Type: InputPicklist, Options: []string{"a", "b"}, Required: true}}}
	if p := ValidateInputs(&pick, map[string]string{"mode": "c"}, nil); len(p) != 1 || !strings.Contains(p[0].Message, "one of a, b") {
		t.Errorf("picklist: %v", p)
	}
	conn := Template{Name: "C", Version: "1.0", Shell: "bash", Script: "x", Inputs: []Input{{Name: "server", Type: InputServiceConnection}}}
	if p := ValidateInputs(&conn, map[string]string{"server": "nope"}, func(string) (string, bool) { return "", false }); len(p) != 1 || !strings.Contains(p[0].Message, `no service connection named "nope"`) {
		t.Errorf("connection: %v", p)
	}
}

// TestConnectionKindAndReplaces: a SERVICE_CONNECTION input with a kind refuses a connection of
// another kind, naming both; the inputs a given connection replaces must be left out, and the
// required ones among them are required only without it.
func TestConnectionKindAndReplaces(t *testing.T) {
	t.Parallel()
	var ssh Template
	for _, b := range Builtins() {
		if b.Name == "SSH" {
			ssh = b
		}
	}
	kinds := map[string]string{"web-hosts": ConnectionSSH, "ci": ConnectionJenkins}
	conns := func(n string) (string, bool) { k, ok := kinds[n]; return k, ok }
	msgs := func(in map[string]string) string {
		var out []string
		for _, p := range ValidateInputs(&ssh, in, conns) {
			out = append(out, p.Field+": "+p.Message)
		}
		return strings.Join(out, "; ")
	}
	if got := msgs(map[string]string{"sshEndpoint": "web-hosts", "commands": "uptime"}); got != "" {
		t.Errorf("connection alone: %s", got)
	}
	if got := msgs(map[string]string{"host": "h", "username": "u", "commands": "uptime"}); got != "" {
		t.Errorf("inline alone: %s", got)
	}
	if got, want := msgs(map[string]string{"sshEndpoint": "ci"}), `inputs.sshEndpoint: input sshEndpoint of SSH@0 takes a service connection of kind SSH; "ci" is of kind JENKINS`; got != want {
		t.Errorf("wrong kind: %s, want %s", got, want)
	}
	if got := msgs(map[string]string{"sshEndpoint": "web-hosts", "host": "other", "password": "$(pw)"}); !strings.Contains(got, "inputs.host: input host of SSH@0: the service connection in sshEndpoint gives it; leave host out") || !strings.Contains(got, "inputs.password:") {
		t.Errorf("both: %s", got)
	}
	if got := msgs(map[string]string{"commands": "uptime"}); !strings.Contains(got, "input host of SSH@0 is required (or give the service connection sshEndpoint)") {
		t.Errorf("neither: %s", got)
	}
	bad := Template{Name: "T", Version: "1.0", Shell: "bash", Script: "x", Inputs: []Input{
		{Name: "a", Type: InputServiceConnection, ConnectionKind: "FTP"},
		{Name: "b", Type: InputString, ConnectionKind: ConnectionSSH},
		{Name: "c", Type: InputServiceConnection, ConnectionKind: ConnectionSSH, Replaces: []string{"nope", "c"}},
		{Name: "d", Type: InputServiceConnection, ConnectionKind: ConnectionKubernetes},
	}}
	var got []string
	for _, p := range Validate(&bad) {
		got = append(got, p.Field)
	}
	if want := "inputs[0].connectionKind,inputs[1].connectionKind,inputs,inputs[2].replaces,inputs[2].replaces"; strings.Join(got, ",") != want {
		t.Errorf("template problems %v, want %s", got, want)
	}
	for _, b := range Builtins() {
		if p := Validate(&b); len(p) > 0 {
			t.Errorf("built-in %s: %v", b.Ref(), p)
		}
	}
}

func TestValidateTemplate(t *testing.T) {
	t.Parallel()
	bad := Template{Name: "9x", Version: "1", Shell: "zsh", Inputs: []Input{
		{Name: "a", Type: "NUMBER"}, {Name: "A", Type: InputString}, {Name: "p", Type: InputPicklist, Default: "z"},
		{Name: "s", Type: InputSecret, Default: "x"},
	}}
	var got []string
	for _, p := range Validate(&bad) {
		got = append(got, p.Field)
	}
	want := "name,version,inputs[0].type,inputs[1].name,inputs[2].options,inputs[2].default,inputs[3].default,script,shell"
	if strings.Join(got, ",") != want {
		t.Errorf("problems %v, want %s", got, want)
	}
	for ref, ok := range map[string]bool{"CopyFiles@2": true, "CopyFiles@02": false, "CopyFiles": false, "Copy Files@2": false, "CopyFiles@-1": false} {
		if _, _, err := ParseRef(ref); (err == nil) != ok {
			t.Errorf("ParseRef(%q): %v", ref, err)
		}
	}
}

func TestExpandAndInputEnv(t *testing.T) {
	t.Parallel()
	vars := map[string]string{"dir": "/srv", "name": "web"}
	lookup := func(n string) (string, bool) { v, ok := vars[n]; return v, ok }
	if got := Expand("$(dir)/$(name)/$(unknown)/$(pwd", lookup); got != "/srv/web/$(unknown)/$(pwd" {
		t.Errorf("Expand = %q", got)
	}
	tpl := Template{Inputs: []Input{{Name: "target.dir", Type: InputString, Default: "d"}, {Name: "pw", Type: InputSecret}}}
	env, secret := InputEnv(&tpl, map[string]string{"PW": "$(name)"}, lookup)
	if env["INPUT_TARGET_DIR"] != "d" || env["INPUT_PW"] != "web" || len(secret) != 1 || secret[0] != "INPUT_PW" {
		t.Errorf("env %v secret %v", env, secret)
	}
}
