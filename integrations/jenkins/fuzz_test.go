package jenkins

import (
	"errors"
	"strings"
	"testing"

	"github.com/cairnhq/cairn/integrations/hook"
)

func FuzzParse(f *testing.F) {
	entries, err := fixtures.ReadDir("testdata")
	if err != nil {
		f.Fatal(err)
	}
	// Only the notification fixtures: they are what Parse reads. (Seeding
	// the 7-10 KB api/json replies too stalls Go's coverage-guided worker on
	// this machine, although Parse itself reads them in under a millisecond.)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "notification_") {
			f.Add(fixture(f, e.Name()))
		}
	}
	f.Add([]byte(`{"name":"x","build":{"number":1,"phase":"COMPLETED","status":"SUCCESS","full_url":"job/%zz/1/"}}`))
	f.Add([]byte(`{"name":"x","build":{"number":1,"phase":"COMPLETED","status":"SUCCESS","url":"job/x/job/y/1/"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := Parse(data)
		if err != nil {
			if n != nil {
				t.Fatal("a notification with an error")
			}
			if !errors.Is(err, hook.ErrMalformed) && !errors.Is(err, hook.ErrInvalid) && !errors.Is(err, hook.ErrTooLarge) {
				t.Fatalf("untyped error %T: %v", err, err)
			}
			return
		}
		if n.Name == "" || n.Build.Number <= 0 {
			t.Fatalf("accepted without name or number: %+v", n)
		}
		b, err := n.ToBuild("c")
		switch {
		case err == nil:
			if !n.Final() || b.Result == "" || b.BuildID == "" || b.Job == "" {
				t.Fatalf("ToBuild = %+v for %+v", b, n.Build)
			}
		case errors.Is(err, hook.ErrIgnored):
			if n.Final() && n.Build.Status != StatusNotBuilt {
				t.Fatalf("ignored a final build with status %q: %v", n.Build.Status, err)
			}
		case errors.Is(err, hook.ErrInvalid):
			// A URL that names no job.
		default:
			t.Fatalf("ToBuild: untyped error %T: %v", err, err)
		}
	})
}
