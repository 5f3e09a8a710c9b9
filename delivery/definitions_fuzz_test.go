package delivery

import (
	"testing"

	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/ent/serviceconnection"
)

// FuzzValidateDefinitionStrings feeds hostile strings to every free-text
// place of a definition: validation must never panic, and whatever it accepts
// must stay within the limits the database enforces.
func FuzzValidateDefinitionStrings(f *testing.F) {
	for _, s := range []string{"", "-", "$(", "$(rev:r", "$()", "release/[", "a\x00b", "\u202e", "../..", "$(Date:)", "x -equals", "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		doc := normalizeDefinition(spec.DefinitionSnapshot{
			Name: s, ReleaseNameFormat: s,
			Variables:       []spec.Variable{{Name: s, Value: s}},
			ArtifactSources: []spec.ArtifactSourceSpec{{Alias: s, Type: s, Connection: s, Job: s, BranchFilters: []string{s}}},
			Environments: []spec.EnvironmentSpec{
				{Name: s, Trigger: spec.Trigger{Kind: spec.TriggerAfterEnvironments, Environments: []string{s, "b"}},
					Job: spec.JobSpec{Demands: []string{s}, Tasks: []spec.Task{{Name: s, Shell: s, Script: s, Env: map[string]string{s: s}}}}},
				{Name: "b", Trigger: spec.Trigger{Kind: spec.TriggerAfterEnvironments, Environments: []string{s}}},
			},
			Schedules: []spec.Schedule{{Cron: s, TimeZone: s}},
		})
		refs := &references{connections: map[string]serviceconnection.Kind{}, connIDs: map[string]int{}, users: map[string]bool{}, groups: map[string]bool{}}
		p := validateDefinition(&doc, refs)
		if len(p.list) == 0 {
			t.Fatalf("a definition whose source names an unknown connection %q passed validation", s)
		}
		flagged := map[string]bool{}
		for _, e := range p.list {
			flagged[e.Field] = true
		}
		if !flagged["name"] && (doc.Name == "" || len(doc.Name) > maxDefinitionName) {
			t.Fatalf("definition name %q (%d bytes) accepted", doc.Name, len(doc.Name))
		}
		if !flagged["environments[0].name"] && (doc.Environments[0].Name == "" || len(doc.Environments[0].Name) > maxEnvironmentName) {
			t.Fatalf("environment name %q accepted", doc.Environments[0].Name)
		}
		if msg := validateBranchFilter(s); msg == "" && (s == "" || s == "-") {
			t.Fatalf("branch filter %q accepted", s)
		}
	})
}
