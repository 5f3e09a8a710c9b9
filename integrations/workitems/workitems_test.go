package workitems

import (
	"reflect"
	"strings"
	"testing"
)

func TestExtract(t *testing.T) {
	t.Parallel()
	ab := func(id string) Ref { return Ref{AzureBoards, id, "AB#" + id} }
	gh := func(id string) Ref { return Ref{GitHub, id, "#" + id} }
	jira := func(key string) Ref { return Ref{Jira, key, key} }
	keys := []string{"PROJ", "shop", " LEG ", "bad-key", "", "1X"}
	tests := []struct {
		msg  string
		want []Ref
	}{
		{"", nil},
		{"Fix the build", nil},
		{"Add health endpoint AB#1234", []Ref{ab("1234")}},
		{"ab#12 and Ab#13", []Ref{ab("12"), ab("13")}},
		{"Fixes #42.", []Ref{gh("42")}},
		{"(#7), [#8]; #9!", []Ref{gh("7"), gh("8"), gh("9")}},
		{"AB#5 is not #5 twice", []Ref{ab("5"), gh("5")}},
		{"PROJ-12: fix, see SHOP-3 and LEG-77", []Ref{jira("PROJ-12"), jira("SHOP-3"), jira("LEG-77")}},
		{"UTF-8 and ISO-8859 are not keys", nil},
		{"proj-12 is lower case", nil},
		{"PROJ-0 PROJ-012 #0 #007 AB#0", nil},
		{"PROJ-", nil},
		{"PROJ-x", nil},
		{"XPROJ-12 PROJX-12 PROJ-12a PROJ-12_", nil},
		{"FOO-PROJ-12", nil},
		{"PROJ-12-3 counts as PROJ-12", []Ref{jira("PROJ-12")}},
		{"x#1 1#2 _#3 AB#4x AB#", nil},
		{"&#123; is an entity, see https://x.org/page/#12 and /#13", nil},
		{"##5", nil},
		{"#12345678901 is too long", nil},
		{"#1234567890 is not", []Ref{gh("1234567890")}},
		{"dup #3 AB#4 #3 PROJ-1 AB#4 PROJ-1", []Ref{gh("3"), ab("4"), jira("PROJ-1")}},
		{"order: PROJ-2 #1 AB#3", []Ref{jira("PROJ-2"), gh("1"), ab("3")}},
		{"line\n#4\tAB#5\r\nPROJ-6", []Ref{gh("4"), ab("5"), jira("PROJ-6")}},
		{"été#4 — #5", []Ref{gh("5")}},
		{"«AB#6»", []Ref{ab("6")}},
		{"SHOP_X-1 is not SHOP", nil},
	}
	for _, tt := range tests {
		got := Extract(tt.msg, keys)
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Extract(%q) = %v, want %v", tt.msg, got, tt.want)
		}
	}
}

func TestExtractNoKeys(t *testing.T) {
	t.Parallel()
	if got := Extract("PROJ-1 AB#2", nil); !reflect.DeepEqual(got, []Ref{{AzureBoards, "2", "AB#2"}}) {
		t.Errorf("Extract without keys = %v", got)
	}
}

func FuzzExtract(f *testing.F) {
	f.Add("Fix AB#12, #3 and PROJ-4 (UTF-8)", "PROJ")
	f.Add("&#1; ab#0 PROJ-01 #99999999999", "UTF")
	f.Fuzz(func(t *testing.T, msg, key string) {
		refs := Extract(msg, []string{key})
		seen := map[Ref]bool{}
		for _, r := range refs {
			if seen[r] {
				t.Fatalf("duplicate %v", r)
			}
			seen[r] = true
			// Every mention is in the message (AB# in any case).
			at := strings.Index(msg, r.Text)
			if r.System == AzureBoards {
				at = strings.Index(strings.ToUpper(msg), r.Text)
			}
			if at < 0 {
				t.Fatalf("%v is not in %q", r, msg)
			}
			if r.ID == "" || r.ID[0] == '0' && r.System != Jira {
				t.Fatalf("bad id in %v", r)
			}
			if r.System == Jira && !strings.HasPrefix(r.ID, strings.ToUpper(strings.TrimSpace(key))+"-") {
				t.Fatalf("%v does not use the configured key %q", r, key)
			}
		}
		// Deterministic.
		if again := Extract(msg, []string{key}); !reflect.DeepEqual(again, refs) {
			t.Fatalf("not deterministic: %v then %v", refs, again)
		}
	})
}
