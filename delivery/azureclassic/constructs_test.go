package azureclassic

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/cairnhq/cairn/ent/schema/spec"
)

// envDoc wraps one environment's JSON into a definition.
func envDoc(env string) []byte {
	return []byte(`{"id": 5, "name": "d", "environments": [{"name": "up", "rank": 1}, ` + env + `]}`)
}

func TestImportConditionStates(t *testing.T) {
	for _, tc := range []struct {
		value   string
		partial bool
		status  Status
	}{
		{"4", false, Mapped},
		{"132", true, Mapped},
		{"128", true, Approximated},
		{"20", false, Approximated}, // succeeded or rejected
		{"", false, Mapped},         // no value: succeeded
	} {
		r := importOne(t, Mapping{}, envDoc(fmt.Sprintf(`{"name": "e", "rank": 2, "conditions": [{"name": "up", "conditionType": 2, "value": %q}]}`, tc.value)))
		tr := r.Definition.Environments[1].Trigger
		if tr.Kind != spec.TriggerAfterEnvironments || tr.AllowPartiallySucceeded != tc.partial || !slices.Equal(tr.Environments, []string{"up"}) {
			t.Errorf("value %q: trigger %+v", tc.value, tr)
		}
		if f := finding(t, r, "environments[1].conditions[0]"); f.Status != tc.status {
			t.Errorf("value %q: %s %s, want %s", tc.value, f.Status, f.Message, tc.status)
		}
	}
}

func TestImportApprovalModes(t *testing.T) {
	users := Mapping{Identities: []Identity{
		{Azure: "a@x", Kind: spec.ApproverUser, Name: "a"}, {Azure: "b@x", Kind: spec.ApproverUser, Name: "b"}, {Azure: "c@x", Kind: spec.ApproverUser, Name: "c"}}}
	approver := func(rank int, who string) string {
		return fmt.Sprintf(`{"rank": %d, "isAutomated": false, "approver": {"uniqueName": %q}}`, rank, who)
	}
	for _, tc := range []struct {
		ranks    [3]int
		count    string
		mode     spec.ApprovalMode
		required int
	}{
		{[3]int{1, 1, 1}, "0", spec.ApprovalAll, 0},
		{[3]int{1, 2, 3}, "null", spec.ApprovalSequential, 0},
		{[3]int{1, 1, 1}, "1", spec.ApprovalAnyOne, 1},
		{[3]int{1, 1, 1}, "2", spec.ApprovalAnyOne, 2},
		{[3]int{1, 1, 1}, "3", spec.ApprovalAll, 0},
	} {
		doc := envDoc(fmt.Sprintf(`{"name": "e", "rank": 2, "postDeployApprovals": {"approvals": [%s, %s, %s],
			"approvalOptions": {"requiredApproverCount": %s, "executionOrder": 2}}}`,
			approver(tc.ranks[0], "a@x"), approver(tc.ranks[1], "b@x"), approver(tc.ranks[2], "c@x"), tc.count))
		p := importOne(t, users, doc).Definition.Environments[1].PostApproval
		if p.Mode != tc.mode || p.RequiredCount != tc.required || len(p.Approvers) != 3 || p.RequesterCannotApprove {
			t.Errorf("ranks %v count %s: %+v, want %s %d", tc.ranks, tc.count, p, tc.mode, tc.required)
		}
	}
}

func TestImportSchedulesAndQueues(t *testing.T) {
	for _, tc := range []struct {
		days, zone string
		cron, tz   string
	}{
		{"127", "UTC", "15 4 * * *", "UTC"},
		{`"all"`, "Tokyo Standard Time", "15 4 * * *", "Asia/Tokyo"},
		{"96", "Europe/Paris", "15 4 * * 6,0", "Europe/Paris"},
		{`"saturday, sunday"`, "Mars Standard Time", "15 4 * * 6,0", "UTC"},
	} {
		doc := []byte(fmt.Sprintf(`{"name": "d", "triggers": [{"triggerType": "schedule", "schedule": {"daysToRelease": %s, "startHours": 4, "startMinutes": 15, "timeZoneId": %q}}],
			"environments": [{"name": "e"}]}`, tc.days, tc.zone))
		r := importOne(t, Mapping{}, doc)
		if len(r.Definition.Schedules) != 1 || r.Definition.Schedules[0].Cron != tc.cron || r.Definition.Schedules[0].TimeZone != tc.tz {
			t.Errorf("days %s zone %s: %+v", tc.days, tc.zone, r.Definition.Schedules)
		}
	}
	r := importOne(t, Mapping{}, []byte(`{"name": "d", "triggers": [{"triggerType": 2, "schedule": {"daysToRelease": 0, "startHours": 4}}], "environments": [{"name": "e"}]}`))
	if len(r.Definition.Schedules) != 0 {
		t.Errorf("a schedule on no day: %+v", r.Definition.Schedules)
	}
	for depth, mode := range map[string]spec.QueueMode{"0": spec.QueueAllInOrder, "1": spec.QueueLatestOnly, "5": spec.QueueAllInOrder} {
		r := importOne(t, Mapping{}, envDoc(`{"name": "e", "rank": 2, "executionPolicy": {"concurrencyCount": 2, "queueDepthCount": `+depth+`}}`))
		if q := r.Definition.Environments[1].Queue; q.MaxParallel != 2 || q.Mode != mode {
			t.Errorf("queue depth %s: %+v", depth, q)
		}
	}
}

func TestImportDemandsAndVersions(t *testing.T) {
	for in, want := range map[string]string{
		"java": "java", "Agent.OS -equals Linux": "Agent.OS -equals Linux", "npm -exists": "npm", "x -equals": "", "bad demand!": "",
	} {
		got, ok := demand(in)
		if got != want || ok != (want != "") {
			t.Errorf("demand(%q) = %q, %v", in, got, ok)
		}
	}
	for in, want := range map[string]int{"2.*": 2, "3.235.2": 3, "1": 1, "0.*": 0} {
		if got, ok := parseMajor(in); !ok || got != want {
			t.Errorf("parseMajor(%q) = %d, %v", in, got, ok)
		}
	}
	for _, bad := range []string{"*", "", "latest", "2x"} {
		if _, ok := parseMajor(bad); ok {
			t.Errorf("parseMajor(%q) accepted", bad)
		}
	}
}

// TestImportFlexibleScalars: numbers as strings, booleans as strings, null: read alike.
func TestImportFlexibleScalars(t *testing.T) {
	var v struct {
		A flexInt
		B flexBool
		C flexString
		D flexStrings
	}
	if err := json.Unmarshal([]byte(`{"A": "42", "B": "True", "C": 7, "D": "a; b,c"}`), &v); err != nil {
		t.Fatal(err)
	}
	if v.A != 42 || !bool(v.B) || v.C != "7" || !slices.Equal([]string(v.D), []string{"a", "b", "c"}) {
		t.Errorf("%+v", v)
	}
	for _, bad := range []string{`{"A": "x"}`, `{"B": "maybe"}`, `{"C": {"x": 1}}`, `{"A": 1e30}`} {
		if err := json.Unmarshal([]byte(bad), &v); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func BenchmarkImport(b *testing.B) {
	docs := [][]byte{readTestdata(b, "definition-7.1.json"), readTestdata(b, "taskgroup.json"), readTestdata(b, "variablegroup.json")}
	m, cat := testMapping(), testCatalog()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Import(docs, m, cat); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkImportFloor decodes the same documents into generic JSON values: the floor an
// import cannot go below.
func BenchmarkImportFloor(b *testing.B) {
	docs := [][]byte{readTestdata(b, "definition-7.1.json"), readTestdata(b, "taskgroup.json"), readTestdata(b, "variablegroup.json")}
	b.ReportAllocs()
	for b.Loop() {
		for _, d := range docs {
			var v any
			if err := json.Unmarshal(d, &v); err != nil {
				b.Fatal(err)
			}
		}
	}
}
