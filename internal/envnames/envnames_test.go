package envnames

import "testing"

func TestCheck(t *testing.T) {
	for _, tt := range []struct {
		name   string
		kind   Kind
		prefix string
	}{
		{"DEPLOY_TARGET", Allowed, ""}, {"PATHS", Allowed, ""}, {"MY_PATH", Allowed, ""},
		{"path", ChangesStart, ""}, {"BASH_ENV", ChangesStart, ""}, {"PROMPT_COMMAND", ChangesStart, ""},
		{"ld_preload", ChangesStart, "LD_"}, {"DYLD_INSERT_LIBRARIES", ChangesStart, "DYLD_"},
		{"BASH_FUNC_x%%", ChangesStart, "BASH_FUNC_"},
		{"RELEASE_RELEASENAME", Own, "RELEASE_"}, {"agent_jobid", Own, "AGENT_"}, {"SYSTEM_X", Own, "SYSTEM_"},
	} {
		k, p := Check(tt.name)
		if k != tt.kind || p != tt.prefix {
			t.Errorf("Check(%q) = %v %q, want %v %q", tt.name, k, p, tt.kind, tt.prefix)
		}
	}
	if ok, _ := ChangesStartOnly("RELEASE_X"); ok {
		t.Error("RELEASE_X changes nothing at start")
	}
}
