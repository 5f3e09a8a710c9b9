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
	if p := ValidateInputs(&conn, map[string]string{"server": "nope"}, func(string) bool { return false }); len(p) != 1 || !strings.Contains(p[0].Message, `no service connection named "nope"`) {
		t.Errorf("connection: %v", p)
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
