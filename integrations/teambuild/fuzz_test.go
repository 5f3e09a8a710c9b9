package teambuild

import (
	"errors"
	"testing"

	"github.com/cairnhq/cairn/integrations/hook"
)

func FuzzParse(f *testing.F) {
	// Small seeds of both shapes: the full fixtures (5-7 KB) stall Go's
	// coverage-guided worker on this machine although Parse reads them in
	// well under a millisecond; the unit tests cover them.
	f.Add(fixture(f, "git_push.json"))
	f.Add([]byte(`{"id":"a","eventType":"build.complete","resourceVersion":"2.0","createdDate":"2025-01-05T10:24:52.3141592Z",
"resource":{"_links":{"web":{"href":"https://dev.azure.com/f/p/_build/results?buildId=7"}},"id":7,"buildNumber":"20250105.3",
"status":"completed","result":"partiallySucceeded","finishTime":"2025-01-05T10:24:47.8901234Z","url":"https://dev.azure.com/f/p/_apis/build/Builds/7",
"definition":{"id":12,"name":"ci","project":{"id":"p","name":"Shop","lastUpdateTime":"0001-01-01T00:00:00"}},"project":{"id":"p","name":"Shop"},
"sourceBranch":"refs/heads/main","sourceVersion":"2f6a8e0c","requestedFor":{"displayName":"A","uniqueName":"a@f.com"},
"repository":{"id":"r","type":"TfsGit","name":"api","url":"https://dev.azure.com/f/p/_git/api","clean":null}},
"resourceContainers":{"collection":{"id":"c"},"project":{"id":"p"}}}`))
	f.Add([]byte(`{"id":"b","eventType":"build.complete","resourceVersion":"1.0","resource":{"uri":"vstfs:///Build/Build/3","id":3,
"buildNumber":"M_20150407.2","url":"https://tfs/tfs/DefaultCollection/71777fbc/_apis/build/Builds/3","finishTime":"2015-04-07T18:06:10.69Z",
"status":"stopped","sourceGetVersion":"LG:refs/heads/master:600c52d2","definition":{"batchSize":1,"definitionType":"xaml","id":2,"name":"M"},
"requests":[{"id":1,"requestedFor":{"displayName":"N","uniqueName":"n@o.com"}}]},"resourceContainers":{"project":{"id":"71777fbc"}}}`))
	f.Add([]byte(`{"eventType":"build.complete","resource":{"id":1,"definition":{"id":2},"status":"completed","result":"failed"}}`))
	f.Add([]byte(`{"eventType":"build.complete","resource":{"id":1,"definition":{"name":"d"},"sourceGetVersion":"LG:refs/heads/x:y","status":"stopped"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := Parse(data)
		if err != nil {
			if ev != nil {
				t.Fatal("an event with an error")
			}
			if !errors.Is(err, hook.ErrMalformed) && !errors.Is(err, hook.ErrInvalid) && !errors.Is(err, hook.ErrIgnored) && !errors.Is(err, hook.ErrTooLarge) {
				t.Fatalf("untyped error %T: %v", err, err)
			}
			return
		}
		if ev.BuildID <= 0 || (ev.DefinitionID <= 0 && ev.DefinitionName == "") {
			t.Fatalf("accepted without build id or definition: %+v", ev)
		}
		b, err := ev.ToBuild("c")
		switch {
		case err == nil:
			if b.Result == "" || b.BuildID == "" || (b.Job == "" && b.JobID == "") {
				t.Fatalf("ToBuild = %+v", b)
			}
		case errors.Is(err, hook.ErrIgnored):
		default:
			t.Fatalf("ToBuild: %T %v", err, err)
		}
	})
}
