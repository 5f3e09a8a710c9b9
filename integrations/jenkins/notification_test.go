package jenkins

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
		file    string
		phase   Phase
		status  Status
		job     string
		number  int64
		final   bool
		ignored bool // ToBuild says ErrIgnored
		result  hook.Result
	}{
		{"notification_queued.json", PhaseQueued, "", "acme/app", 42, false, true, ""},
		{"notification_started.json", PhaseStarted, "", "acme/app", 42, false, true, ""},
		{"notification_completed.json", PhaseCompleted, StatusSuccess, "acme/app", 42, true, false, hook.ResultSucceeded},
		{"notification_finalized.json", PhaseFinalized, StatusSuccess, "acme/app", 42, true, false, hook.ResultSucceeded},
		{"notification_multibranch_unstable.json", PhaseCompleted, StatusUnstable, "shop/feature%2Flogin", 3, true, false, hook.ResultPartiallySucceeded},
		{"notification_freestyle_aborted.json", PhaseFinalized, StatusAborted, "nightly-report", 1207, true, false, hook.ResultCanceled},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			n, err := Parse(fixture(t, tt.file))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if n.Build.Phase != tt.phase || n.Build.Status != tt.status || n.Build.Number != tt.number || n.Final() != tt.final {
				t.Errorf("got phase %s status %q number %d final %v", n.Build.Phase, n.Build.Status, n.Build.Number, n.Final())
			}
			job, err := n.JobFullName()
			if err != nil || job != tt.job {
				t.Errorf("JobFullName() = %q, %v; want %q", job, err, tt.job)
			}
			b, err := n.ToBuild("ci")
			if tt.ignored {
				if !errors.Is(err, hook.ErrIgnored) || b != nil {
					t.Fatalf("ToBuild = %v, %v; want ErrIgnored", b, err)
				}
				if hook.StatusCode(err) != 202 {
					t.Errorf("StatusCode = %d, want 202", hook.StatusCode(err))
				}
				return
			}
			if err != nil {
				t.Fatalf("ToBuild: %v", err)
			}
			if b.Result != tt.result || b.Job != tt.job || b.Source != hook.SourceJenkins || b.Connection != "ci" {
				t.Errorf("ToBuild = %+v", b)
			}
		})
	}
}

func TestCompletedBuild(t *testing.T) {
	t.Parallel()
	n, err := Parse(fixture(t, "notification_completed.json"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := n.ToBuild("ci")
	if err != nil {
		t.Fatal(err)
	}
	want := &hook.Build{
		Source:     hook.SourceJenkins,
		Connection: "ci",
		Job:        "acme/app",
		BuildID:    "42",
		Number:     "42",
		Branch:     "origin/main",
		Commit:     "9fceb02d0ae598e95dc970b74767f19372d61af8",
		Result:     hook.ResultSucceeded,
		URL:        "https://ci.example.com/jenkins/job/acme/job/app/42/",
		Finished:   time.UnixMilli(1736073001234 + 184512).UTC(),
		Artifacts: []hook.Artifact{
			{Name: "app-linux-amd64.tar.gz", URL: "https://ci.example.com/jenkins/job/acme/job/app/42/artifact/dist/app-linux-amd64.tar.gz"},
			{Name: "app.sbom.json", URL: "https://ci.example.com/jenkins/job/acme/job/app/42/artifact/dist/app.sbom.json"},
		},
	}
	if !reflect.DeepEqual(b, want) {
		t.Errorf("ToBuild =\n%+v\nwant\n%+v", b, want)
	}
	if n.Build.Parameters["TARGET"] != "staging" || len(n.Build.SCM.Culprits) != 2 || len(n.Build.SCM.Changes) != 2 {
		t.Errorf("parameters or scm lost: %+v %+v", n.Build.Parameters, n.Build.SCM)
	}

	// COMPLETED then FINALIZED of the same build: one key.
	f, err := Parse(fixture(t, "notification_finalized.json"))
	if err != nil {
		t.Fatal(err)
	}
	fb, err := f.ToBuild("ci")
	if err != nil {
		t.Fatal(err)
	}
	if fb.Key() != b.Key() {
		t.Errorf("COMPLETED key %q != FINALIZED key %q", b.Key(), fb.Key())
	}
	// Another connection, job or number: another key.
	other := *b
	other.Connection = "ci2"
	if other.Key() == b.Key() {
		t.Error("key ignores the connection")
	}
	other = *b
	other.Job = "acme/app2"
	if other.Key() == b.Key() {
		t.Error("key ignores the job")
	}
}

func TestParseNonStringParameters(t *testing.T) {
	t.Parallel()
	n, err := Parse(fixture(t, "notification_freestyle_aborted.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := Parameters{"DAYS": "7", "DRY_RUN": "false", "NOTE": ""}
	if !reflect.DeepEqual(n.Build.Parameters, want) {
		t.Errorf("parameters = %#v, want %#v", n.Build.Parameters, want)
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	valid := string(fixture(t, "notification_completed.json"))
	// edit returns valid with the JSON value at path replaced (or removed
	// when value is nil).
	edit := func(path string, value any) string {
		var doc map[string]any
		if err := json.Unmarshal([]byte(valid), &doc); err != nil {
			t.Fatal(err)
		}
		keys := strings.Split(path, ".")
		m := doc
		for _, k := range keys[:len(keys)-1] {
			m = m[k].(map[string]any)
		}
		if value == nil {
			delete(m, keys[len(keys)-1])
		} else {
			m[keys[len(keys)-1]] = value
		}
		b, err := json.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	tests := []struct {
		name   string
		body   string
		kind   error
		field  string
		reason string
	}{
		{"empty", "", hook.ErrMalformed, "", "empty body"},
		{"blank", " \n", hook.ErrMalformed, "", "empty body"},
		{"truncated", valid[:len(valid)/2], hook.ErrMalformed, "", "truncated JSON"},
		{"not json", "phase=COMPLETED", hook.ErrMalformed, "", "not JSON"},
		{"trailing garbage", valid + "x", hook.ErrMalformed, "", "not JSON"},
		{"array", "[]", hook.ErrMalformed, "", "where an object was expected"},
		{"null", "null", hook.ErrInvalid, "name", "missing"},
		{"number as string", edit("build.number", "42"), hook.ErrMalformed, "build.number", "string where a number"},
		{"number as float", edit("build.number", 4.2), hook.ErrMalformed, "build.number", "number"},
		{"build as string", edit("build", "x"), hook.ErrMalformed, "build", "where an object"},
		{"changes as string", edit("build.scm.changes", "a.go"), hook.ErrMalformed, "build.scm.changes", "where an array"},
		{"artifacts as list", edit("build.artifacts", []any{"a"}), hook.ErrMalformed, "build.artifacts", "where an object"},
		{"parameter as object", edit("build.parameters", map[string]any{"X": map[string]any{}}), hook.ErrMalformed, "build.parameters.X", "object or array where a string"},
		{"missing name", edit("name", nil), hook.ErrInvalid, "name", "missing"},
		{"missing number", edit("build.number", nil), hook.ErrInvalid, "build.number", "missing"},
		{"negative number", edit("build.number", -3), hook.ErrInvalid, "build.number", "negative"},
		{"missing phase", edit("build.phase", nil), hook.ErrInvalid, "build.phase", "missing"},
		{"unknown phase", edit("build.phase", "DONE"), hook.ErrInvalid, "build.phase", `unknown phase "DONE"`},
		{"lower-case phase", edit("build.phase", "completed"), hook.ErrInvalid, "build.phase", "unknown phase"},
		{"completed without status", edit("build.status", nil), hook.ErrInvalid, "build.status", "missing in phase COMPLETED"},
		{"unknown status", edit("build.status", "GREEN"), hook.ErrInvalid, "build.status", "unknown result"},
		{"huge name", edit("name", strings.Repeat("n", maxNameLen+1)), hook.ErrInvalid, "name", "more than"},
		{"huge full_url", edit("build.full_url", "https://x/"+strings.Repeat("a", maxURLLen)), hook.ErrInvalid, "build.full_url", "more than"},
		{"huge commit", edit("build.scm.commit", strings.Repeat("f", maxRefLen+1)), hook.ErrInvalid, "build.scm.commit", "more than"},
		{"huge branch", edit("build.scm.branch", strings.Repeat("b", maxRefLen+1)), hook.ErrInvalid, "build.scm.branch", "more than"},
		{"too many changes", edit("build.scm.changes", make([]string, maxListLen+1)), hook.ErrInvalid, "build.scm.changes", "entries"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			n, err := Parse([]byte(tt.body))
			if n != nil || !errors.Is(err, tt.kind) {
				t.Fatalf("Parse = %v, %v; want kind %v", n, err, tt.kind)
			}
			var pe *hook.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %T is not a *hook.ParseError", err)
			}
			if pe.Field != tt.field || !strings.Contains(pe.Reason, tt.reason) {
				t.Errorf("field %q reason %q; want field %q reason containing %q", pe.Field, pe.Reason, tt.field, tt.reason)
			}
			if !strings.HasPrefix(err.Error(), "jenkins notification: ") {
				t.Errorf("message %q lacks its payload name", err)
			}
			if hook.StatusCode(err) != 400 {
				t.Errorf("StatusCode = %d, want 400", hook.StatusCode(err))
			}
		})
	}
}

func TestParseTooLarge(t *testing.T) {
	t.Parallel()
	_, err := Parse(make([]byte, hook.MaxBodyBytes+1))
	if !errors.Is(err, hook.ErrTooLarge) {
		t.Fatalf("Parse of %d bytes = %v, want ErrTooLarge", hook.MaxBodyBytes+1, err)
	}
}

func TestReadNotification(t *testing.T) {
	t.Parallel()
	body := fixture(t, "notification_completed.json")
	n, err := ReadNotification(httptest.NewRequest("POST", "/webhooks/jenkins", bytes.NewReader(body)))
	if err != nil || n.Build.Number != 42 {
		t.Fatalf("ReadNotification = %v, %v", n, err)
	}

	// A body over the cap, with and without a declared length.
	big := append(bytes.Repeat([]byte(" "), hook.MaxBodyBytes), body...)
	r := httptest.NewRequest("POST", "/webhooks/jenkins", bytes.NewReader(big))
	if _, err := ReadNotification(r); !errors.Is(err, hook.ErrTooLarge) || hook.StatusCode(err) != 413 {
		t.Errorf("declared oversize: %v", err)
	}
	r = httptest.NewRequest("POST", "/webhooks/jenkins", bytes.NewReader(big))
	r.ContentLength = -1
	if _, err := ReadNotification(r); !errors.Is(err, hook.ErrTooLarge) {
		t.Errorf("undeclared oversize: %v", err)
	}
	// Exactly at the cap is fine (as far as size goes).
	at := append(bytes.Repeat([]byte(" "), hook.MaxBodyBytes-len(body)), body...)
	if _, err := ReadNotification(httptest.NewRequest("POST", "/", bytes.NewReader(at))); err != nil {
		t.Errorf("body of exactly %d bytes: %v", len(at), err)
	}
}

func TestToBuildResults(t *testing.T) {
	t.Parallel()
	for status, want := range map[Status]hook.Result{
		StatusSuccess:  hook.ResultSucceeded,
		StatusUnstable: hook.ResultPartiallySucceeded,
		StatusFailure:  hook.ResultFailed,
		StatusAborted:  hook.ResultCanceled,
		StatusNotBuilt: "",
	} {
		n := &Notification{Name: "x", Build: BuildNotice{Number: 1, Phase: PhaseCompleted, Status: status, URL: "job/x/1/"}}
		b, err := n.ToBuild("c")
		if want == "" {
			if !errors.Is(err, hook.ErrIgnored) {
				t.Errorf("%s: ToBuild = %v, %v; want ErrIgnored", status, b, err)
			}
			continue
		}
		if err != nil || b.Result != want {
			t.Errorf("%s: ToBuild = %v, %v; want result %s", status, b, err, want)
		}
	}
}
