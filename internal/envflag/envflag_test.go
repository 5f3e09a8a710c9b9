package envflag

import (
	"bytes"
	"flag"
	"io"
	"strings"
	"testing"
)

func TestApplyAndUsage(t *testing.T) {
	env := map[string]string{"CAIRN_DATA_DIR": "/var/lib/cairn", "CAIRN_ADDR": "0.0.0.0:1", "AGENT_TOKEN": "t",
		"CAIRN_MAX_BODY": "lots", "CAIRN_CAPABILITY": "ignored", "CAIRN_EMPTY": ""}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	names := Names{"token": "AGENT_TOKEN", "capability": ""}
	newFS := func() (*flag.FlagSet, *string, *string, *string, *string) {
		fs := flag.NewFlagSet("x", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		return fs, fs.String("data-dir", "./d", "data `directory`"), fs.String("addr", "", "listen address"),
			fs.String("token", "", "token"), fs.String("capability", "", "repeatable")
	}
	fs, dir, addr, tok, capab := newFS()
	if err := fs.Parse([]string{"--addr", "127.0.0.1:2"}); err != nil {
		t.Fatal(err)
	}
	if err := Apply(fs, lookup, names); err != nil {
		t.Fatal(err)
	}
	if *dir != "/var/lib/cairn" || *addr != "127.0.0.1:2" || *tok != "t" || *capab != "" {
		t.Errorf("dir %q addr %q token %q capability %q", *dir, *addr, *tok, *capab)
	}

	fs = flag.NewFlagSet("x", flag.ContinueOnError)
	fs.Int64("empty", 3, "an empty variable is no variable")
	fs.Parse(nil)
	if err := Apply(fs, lookup, nil); err != nil || fs.Lookup("empty").Value.String() != "3" {
		t.Errorf("empty variable: %v %v", err, fs.Lookup("empty").Value)
	}
	fs = flag.NewFlagSet("x", flag.ContinueOnError)
	fs.Int64("max-body", 1, "limit")
	fs.Parse(nil)
	if err := Apply(fs, lookup, nil); err == nil || !strings.Contains(err.Error(), "CAIRN_MAX_BODY") {
		t.Errorf("bad value: %v", err)
	}

	fs, _, _, _, _ = newFS()
	var out bytes.Buffer
	PrintUsage(&out, fs, "x [flags]", names)
	for _, want := range []string{"CAIRN_ + the flag name in upper case", "--data-dir directory   (CAIRN_DATA_DIR)", `(default "./d")`,
		"--token string   (AGENT_TOKEN)", "--capability string\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("usage lacks %q:\n%s", want, out.String())
		}
	}
}
