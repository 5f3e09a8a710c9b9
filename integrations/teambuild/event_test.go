package teambuild

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cairnhq/cairn/integrations/hook"
)

func TestParseFixtures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file   string
		result hook.Result
	}{
		{"build_complete_v1_succeeded.json", hook.ResultSucceeded},
		{"build_complete_v1_partially_succeeded.json", hook.ResultPartiallySucceeded},
		{"build_complete_v1_failed.json", hook.ResultFailed},
		{"build_complete_v1_stopped.json", hook.ResultCanceled},
		{"build_complete_v2_succeeded.json", hook.ResultSucceeded},
		{"build_complete_v2_partially_succeeded.json", hook.ResultPartiallySucceeded},
		{"build_complete_v2_failed.json", hook.ResultFailed},
		{"build_complete_v2_canceled.json", hook.ResultCanceled},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			ev, err := Parse(fixture(t, tt.file))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			b, err := ev.ToBuild("ado")
			if err != nil {
				t.Fatalf("ToBuild: %v", err)
			}
			if b.Result != tt.result {
				t.Errorf("result = %s, want %s", b.Result, tt.result)
			}
			if b.Source != hook.SourceTeamBuild || b.Connection != "ado" || b.BuildID == "" || b.JobID == "" || b.Job == "" || b.Commit == "" || b.Project == "" {
				t.Errorf("incomplete build %+v", b)
			}
		})
	}
}

func TestParseV2(t *testing.T) {
	t.Parallel()
	ev, err := Parse(fixture(t, "build_complete_v2_succeeded.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := &BuildEvent{
		ID:              "a1f5b2a0-3c5e-4a55-8f9b-3c8a0c7e4d21",
		ResourceVersion: "2.0",
		CreatedDate:     time.Date(2025, 1, 5, 10, 24, 52, 314159200, time.UTC),
		CollectionID:    "0c1d2e3f-4a5b-6c7d-8e9f-0a1b2c3d4e5f",
		BuildID:         1021,
		BuildNumber:     "20250105.3",
		Status:          "completed",
		Result:          "succeeded",
		Reason:          "individualCI",
		DefinitionID:    12,
		DefinitionName:  "shop-api-CI",
		ProjectID:       "4a2b6c1d-8e9f-4a0b-b1c2-d3e4f5a6b7c8",
		ProjectName:     "Shop",
		SourceBranch:    "refs/heads/main",
		SourceVersion:   "2f6a8e0c4b1d3f5a7c9e0b2d4f6a8c0e1b3d5f7a",
		Repository:      Repository{ID: "b2c3d4e5-f6a7-4b8c-9d0e-f1a2b3c4d5e6", Type: "TfsGit", Name: "shop-api", URL: "https://dev.azure.com/fabrikam/Shop/_git/shop-api"},
		RequestedFor:    Identity{ID: "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9", DisplayName: "Alice Martin", UniqueName: "alice@fabrikam.com"},
		URL:             "https://dev.azure.com/fabrikam/4a2b6c1d-8e9f-4a0b-b1c2-d3e4f5a6b7c8/_apis/build/Builds/1021",
		WebURL:          "https://dev.azure.com/fabrikam/4a2b6c1d-8e9f-4a0b-b1c2-d3e4f5a6b7c8/_build/results?buildId=1021",
		StartTime:       time.Date(2025, 1, 5, 10, 20, 9, 123456700, time.UTC),
		FinishTime:      time.Date(2025, 1, 5, 10, 24, 47, 890123400, time.UTC),
	}
	if !reflect.DeepEqual(ev, want) {
		t.Errorf("Parse =\n%+v\nwant\n%+v", ev, want)
	}
	b, err := ev.ToBuild("ado")
	if err != nil {
		t.Fatal(err)
	}
	wantBuild := &hook.Build{
		Source: hook.SourceTeamBuild, Connection: "ado", Job: "shop-api-CI", JobID: "12", Project: "Shop",
		BuildID: "1021", Number: "20250105.3", Branch: "refs/heads/main", Commit: "2f6a8e0c4b1d3f5a7c9e0b2d4f6a8c0e1b3d5f7a",
		Result: hook.ResultSucceeded, URL: want.WebURL, RequestedFor: "Alice Martin", Finished: want.FinishTime,
	}
	if !reflect.DeepEqual(b, wantBuild) {
		t.Errorf("ToBuild =\n%+v\nwant\n%+v", b, wantBuild)
	}
	// The same build under another outcome file (a redelivery) keeps its key.
	ev2, err := Parse(fixture(t, "build_complete_v2_failed.json"))
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := ev2.ToBuild("ado")
	if b2.Key() != b.Key() {
		t.Errorf("keys differ: %q %q", b.Key(), b2.Key())
	}
}

func TestParseV1(t *testing.T) {
	t.Parallel()
	ev, err := Parse(fixture(t, "build_complete_v1_succeeded.json"))
	if err != nil {
		t.Fatal(err)
	}
	if ev.ResourceVersion != "1.0" || ev.BuildID != 3 || ev.BuildNumber != "ConsumerAddressModule_20150407.2" ||
		ev.Status != "succeeded" || ev.Result != "" || ev.DefinitionID != 2 || ev.DefinitionName != "ConsumerAddressModule" {
		t.Errorf("Parse = %+v", ev)
	}
	// No project name in 1.0: the id from the containers.
	if ev.ProjectID != "71777fbc-1cf2-4bd1-9540-128c1c71f766" || ev.ProjectName != "" {
		t.Errorf("project = %q %q", ev.ProjectID, ev.ProjectName)
	}
	// sourceGetVersion "LG:refs/heads/master:<sha>".
	if ev.SourceBranch != "refs/heads/master" || ev.SourceVersion != "600c52d2d5b655caa111abfd863e5a9bd304bb0e" {
		t.Errorf("source = %q %q", ev.SourceBranch, ev.SourceVersion)
	}
	if ev.RequestedFor.DisplayName != "Normal Paulk" || ev.RequestedFor.UniqueName != "fabrikamfiberalpha@outlook.com" {
		t.Errorf("requestedFor = %+v", ev.RequestedFor)
	}
	if !ev.FinishTime.Equal(time.Date(2015, 4, 7, 18, 6, 10, 690000000, time.UTC)) {
		t.Errorf("finish = %v", ev.FinishTime)
	}
	b, err := ev.ToBuild("tfs")
	if err != nil || b.Project != "71777fbc-1cf2-4bd1-9540-128c1c71f766" || b.URL != "" {
		t.Errorf("ToBuild = %+v, %v", b, err)
	}
}

// edit returns the JSON document with the value at a dotted path replaced,
// or removed when value is nil.
func edit(t *testing.T, doc []byte, path string, value any) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(doc, &m); err != nil {
		t.Fatal(err)
	}
	keys := strings.Split(path, ".")
	cur := m
	for _, k := range keys[:len(keys)-1] {
		cur = cur[k].(map[string]any)
	}
	if value == nil {
		delete(cur, keys[len(keys)-1])
	} else {
		cur[keys[len(keys)-1]] = value
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseVariants(t *testing.T) {
	t.Parallel()
	v1 := fixture(t, "build_complete_v1_succeeded.json")
	v2 := fixture(t, "build_complete_v2_succeeded.json")

	// TFVC: "C123", no branch.
	ev, err := Parse(edit(t, v1, "resource.sourceGetVersion", "C4512"))
	if err != nil || ev.SourceBranch != "" || ev.SourceVersion != "C4512" {
		t.Errorf("TFVC: %+v, %v", ev, err)
	}
	// A 1.0 payload without containers: the project id from the URL.
	ev, err = Parse(edit(t, v1, "resourceContainers", nil))
	if err != nil || ev.ProjectID != "71777fbc-1cf2-4bd1-9540-128c1c71f766" {
		t.Errorf("project from URL: %+v, %v", ev, err)
	}
	// A 2.0 payload without resource.project: the definition's.
	ev, err = Parse(edit(t, v2, "resource.project", nil))
	if err != nil || ev.ProjectName != "Shop" {
		t.Errorf("project from definition: %+v, %v", ev, err)
	}
	// Null and odd dates do not reject the event (go-playground's Date would).
	ev, err = Parse(edit(t, v2, "resource.finishTime", "not a date"))
	if err != nil || !ev.FinishTime.IsZero() {
		t.Errorf("odd date: %+v, %v", ev, err)
	}
	if _, err = Parse(bytes.Replace(v2, []byte(`"finishTime": "2025-01-05T10:24:47.8901234Z"`), []byte(`"finishTime": null`), 1)); err != nil {
		t.Errorf("null date: %v", err)
	}
	// Message wording and publisherId are not read.
	ev, err = Parse(edit(t, edit(t, v2, "message.text", "Build 20250105.3 failed"), "publisherId", "other"))
	if err != nil {
		t.Fatal(err)
	}
	if r, err := ev.Outcome(); err != nil || r != hook.ResultSucceeded {
		t.Errorf("outcome = %s, %v; the message must not decide it", r, err)
	}
	// Case of the outcome.
	ev, err = Parse(edit(t, v2, "resource.result", "PartiallySucceeded"))
	if r, _ := ev.Outcome(); err != nil || r != hook.ResultPartiallySucceeded {
		t.Errorf("case-insensitive outcome: %s, %v", r, err)
	}
}

func TestOutcomeIgnored(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ status, result string }{
		{"inProgress", ""},
		{"notStarted", ""},
		{"completed", ""},
		{"completed", "none"},
		{"inProgress", "succeeded"},
		{"completed", "succeededWithIssues"},
		{"", ""},
	} {
		ev := &BuildEvent{BuildID: 1, Status: tt.status, Result: tt.result}
		if r, err := ev.Outcome(); !errors.Is(err, hook.ErrIgnored) {
			t.Errorf("Outcome(%q, %q) = %s, %v; want ErrIgnored", tt.status, tt.result, r, err)
		}
		if b, err := ev.ToBuild("c"); b != nil || !errors.Is(err, hook.ErrIgnored) {
			t.Errorf("ToBuild(%q, %q) = %v, %v", tt.status, tt.result, b, err)
		}
	}
}

func TestParseOtherEventIgnored(t *testing.T) {
	t.Parallel()
	ev, err := Parse(fixture(t, "git_push.json"))
	var ie *hook.IgnoredError
	if ev != nil || !errors.As(err, &ie) || !strings.Contains(ie.Reason, `"git.push"`) {
		t.Fatalf("Parse(git.push) = %v, %v; want an IgnoredError", ev, err)
	}
	if hook.StatusCode(err) != 202 {
		t.Errorf("StatusCode = %d, want 202", hook.StatusCode(err))
	}
	// The event type decides, not the resource: a build resource under
	// another event type is ignored too.
	v2 := fixture(t, "build_complete_v2_succeeded.json")
	if _, err := Parse(edit(t, v2, "eventType", "ms.vss-pipelines.run-state-changed-event")); !errors.Is(err, hook.ErrIgnored) {
		t.Errorf("run-state-changed: %v", err)
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	v2 := fixture(t, "build_complete_v2_succeeded.json")
	tests := []struct {
		name   string
		body   []byte
		kind   error
		field  string
		reason string
	}{
		{"empty", nil, hook.ErrMalformed, "", "empty body"},
		{"truncated", v2[:len(v2)/3], hook.ErrMalformed, "", "truncated"},
		{"not json", []byte("<xml/>"), hook.ErrMalformed, "", "not JSON"},
		{"array", []byte(`[{"eventType":"build.complete"}]`), hook.ErrMalformed, "", "object was expected"},
		{"eventType number", edit(t, v2, "eventType", 3), hook.ErrMalformed, "eventType", "number where a string"},
		{"missing eventType", edit(t, v2, "eventType", nil), hook.ErrInvalid, "eventType", "missing"},
		{"missing resource", edit(t, v2, "resource", nil), hook.ErrInvalid, "resource", "missing"},
		{"resource string", edit(t, v2, "resource", "x"), hook.ErrMalformed, "resource", "string where an object"},
		{"id string", edit(t, v2, "resource.id", "1021"), hook.ErrMalformed, "resource.id", "string where a number"},
		{"definition id string", edit(t, v2, "resource.definition.id", "12"), hook.ErrMalformed, "resource.definition.id", "string where a number"},
		{"missing id", edit(t, v2, "resource.id", nil), hook.ErrInvalid, "resource.id", "missing"},
		{"missing definition", edit(t, v2, "resource.definition", nil), hook.ErrInvalid, "resource.definition", "missing"},
		{"huge branch", edit(t, v2, "resource.sourceBranch", "refs/heads/"+strings.Repeat("x", maxFieldLen)), hook.ErrInvalid, "resource.sourceBranch", "more than"},
		{"huge definition name", edit(t, v2, "resource.definition.name", strings.Repeat("x", maxFieldLen+1)), hook.ErrInvalid, "resource.definition.name", "more than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ev, err := Parse(tt.body)
			if ev != nil || !errors.Is(err, tt.kind) {
				t.Fatalf("Parse = %v, %v; want kind %v", ev, err, tt.kind)
			}
			var pe *hook.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("%T is not a *hook.ParseError", err)
			}
			if pe.Field != tt.field || !strings.Contains(pe.Reason, tt.reason) {
				t.Errorf("field %q reason %q; want %q, %q", pe.Field, pe.Reason, tt.field, tt.reason)
			}
			if hook.StatusCode(err) != 400 {
				t.Errorf("StatusCode = %d", hook.StatusCode(err))
			}
		})
	}
	if _, err := Parse(make([]byte, hook.MaxBodyBytes+1)); !errors.Is(err, hook.ErrTooLarge) {
		t.Errorf("oversize: %v", err)
	}
}

func TestReadEvent(t *testing.T) {
	t.Parallel()
	body := fixture(t, "build_complete_v2_succeeded.json")
	ev, err := ReadEvent(httptest.NewRequest("POST", "/webhooks/teambuild", bytes.NewReader(body)))
	if err != nil || ev.BuildID != 1021 {
		t.Fatalf("ReadEvent = %v, %v", ev, err)
	}
	big := append(bytes.Repeat([]byte(" "), hook.MaxBodyBytes), body...)
	r := httptest.NewRequest("POST", "/webhooks/teambuild", bytes.NewReader(big))
	r.ContentLength = -1
	if _, err := ReadEvent(r); !errors.Is(err, hook.ErrTooLarge) || hook.StatusCode(err) != 413 {
		t.Errorf("oversize: %v", err)
	}
}

func TestAuthenticate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name             string
		sendUser, sendPw string
		send             bool
		user, pw         string
		want             bool
	}{
		{"match", "hook", "s3cret", true, "hook", "s3cret", true},
		{"empty user", "", "s3cret", true, "", "s3cret", true},
		{"wrong password", "hook", "s3cre", true, "hook", "s3cret", false},
		{"wrong user", "hooks", "s3cret", true, "hook", "s3cret", false},
		{"user where none configured", "hook", "s3cret", true, "", "s3cret", false},
		{"no header", "", "", false, "hook", "s3cret", false},
		{"nothing configured, nothing sent", "", "", false, "", "", false},
		{"nothing configured, empty sent", "", "", true, "", "", false},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("POST", "/webhooks/teambuild", nil)
		if tt.send {
			r.SetBasicAuth(tt.sendUser, tt.sendPw)
		}
		if got := Authenticate(r, tt.user, tt.pw); got != tt.want {
			t.Errorf("%s: Authenticate = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestSplitSourceGetVersion(t *testing.T) {
	t.Parallel()
	for in, want := range map[string][2]string{
		"LG:refs/heads/main:abc":  {"refs/heads/main", "abc"},
		"LG:refs/heads/a:b:c:sha": {"refs/heads/a:b:c", "sha"},
		"LG:abc":                  {"", "abc"},
		"C123":                    {"", "C123"},
		"":                        {"", ""},
	} {
		b, v := splitSourceGetVersion(in)
		if b != want[0] || v != want[1] {
			t.Errorf("splitSourceGetVersion(%q) = %q, %q; want %q", in, b, v, want)
		}
	}
}
