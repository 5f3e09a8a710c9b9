package delivery_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/storage"
	"github.com/cairnhq/cairn/storage/storagetest"
)

// TestDefinitionReaders: readers must name existing groups (nothing is
// written otherwise); a restricted definition is readable by its groups'
// members and ADMINs only.
func TestDefinitionReaders(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		editor := f.user("eddie", "EDITOR")
		member := f.user("mia", "VIEWER")
		outsider := f.user("otto", "VIEWER")
		f.group("ops", member)
		doc := func(name string, readers ...string) spec.DefinitionSnapshot {
			return spec.DefinitionSnapshot{Name: name, Readers: readers,
				Environments: []spec.EnvironmentSpec{{Name: "dev"}}}
		}
		many := make([]string, 51)
		for i := range many {
			many[i] = fmt.Sprintf("g%d", i)
		}
		for _, tc := range []struct {
			readers []string
			want    string
		}{
			{[]string{"nobody"}, `readers[0]: group "nobody" does not exist`},
			{[]string{"ops", " "}, "readers[1]: a reader group needs a name"},
			{[]string{"'; DROP TABLE groups;--"}, "does not exist"},
			{many, "at most 50"},
		} {
			_, err := f.e.CreateDefinition(f.ctx, editor, doc("bad", tc.readers...), "")
			if delivery.CodeOf(err) != delivery.CodeInvalidInput || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("readers %q: %v; want %q", tc.readers, err, tc.want)
			}
		}
		if n := f.c.ReleaseDefinition.Query().CountX(f.ctx); n != 0 {
			t.Fatalf("%d definitions written from invalid documents", n)
		}
		secret, err := f.e.CreateDefinition(f.ctx, editor, doc("secret", " ops ", "ops"), "")
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(secret.Readers, ","); got != "ops" {
			t.Fatalf("readers stored as %q, want ops", got)
		}
		open, err := f.e.CreateDefinition(f.ctx, editor, doc("open"), "")
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			who  delivery.Actor
			read bool
		}{{member, true}, {outsider, false}, {f.admin, true}} {
			ok, err := f.e.CanReadDefinition(f.ctx, tc.who, secret.ID)
			if err != nil || ok != tc.read {
				t.Errorf("%s reads secret: %v (%v), want %v", tc.who.Username, ok, err, tc.read)
			}
			_, err = f.e.Definition(f.ctx, tc.who, secret.ID)
			if (err == nil) != tc.read || (err != nil && delivery.CodeOf(err) != delivery.CodeNotFound) {
				t.Errorf("%s Definition(secret): %v", tc.who.Username, err)
			}
			if ok, _ := f.e.CanReadDefinition(f.ctx, tc.who, open.ID); !ok {
				t.Errorf("%s cannot read an unrestricted definition", tc.who.Username)
			}
		}
		hidden, err := f.e.HiddenDefinitions(f.ctx, outsider)
		if err != nil || len(hidden) != 1 || hidden[0] != secret.ID {
			t.Fatalf("hidden from otto: %v (%v)", hidden, err)
		}
		// Lifting the restriction opens it.
		if _, err := f.e.UpdateDefinition(f.ctx, f.admin, secret.ID, secret.Revision, doc("secret"), ""); err != nil {
			t.Fatal(err)
		}
		if ok, _ := f.e.CanReadDefinition(f.ctx, outsider, secret.ID); !ok {
			t.Fatal("readers removed, still hidden")
		}
	})
}

// TestLogsFollowDefinitionReaders: a job's log, the live log stream, the
// current deployments, the changes and the revisions of a restricted
// definition are NOT_FOUND to a viewer outside its readers, as the definition
// itself is.
func TestLogsFollowDefinitionReaders(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		member := f.user("mia", "VIEWER")
		outsider := f.user("otto", "VIEWER")
		f.group("ops", member)
		def := f.definition(snapshot("secret", environment("dev", afterRelease)))
		f.c.ReleaseDefinition.UpdateOneID(def).SetReaders([]string{"ops"}).ExecX(f.ctx)
		rel := f.release(f.admin, def, "1")
		dep := f.deployment(rel.ID, "dev")
		j := f.job(dep.ID)
		for _, tc := range []struct {
			who  delivery.Actor
			read bool
		}{{member, true}, {f.admin, true}, {outsider, false}} {
			_, err := f.e.JobLogs(f.ctx, tc.who, j.ID, 1, 0)
			if (err == nil) != tc.read || (err != nil && delivery.CodeOf(err) != delivery.CodeNotFound) {
				t.Errorf("%s JobLogs: %v, want readable=%v", tc.who.Username, err, tc.read)
			}
			ctx, cancel := context.WithCancel(f.ctx)
			_, err = f.e.FollowDeploymentLog(ctx, tc.who, nopSubscriber{}, dep.ID, 1)
			cancel()
			if (err == nil) != tc.read || (err != nil && delivery.CodeOf(err) != delivery.CodeNotFound) {
				t.Errorf("%s FollowDeploymentLog: %v, want readable=%v", tc.who.Username, err, tc.read)
			}
			// Everything else that reads the definition follows the same rule.
			_, errCur := f.e.CurrentDeployments(f.ctx, tc.who, def)
			_, errChg := f.e.ChangesSince(f.ctx, tc.who, rel.ID, "dev")
			_, errRev := f.e.DefinitionRevisions(f.ctx, tc.who, def)
			for what, err := range map[string]error{"CurrentDeployments": errCur, "ChangesSince": errChg, "DefinitionRevisions": errRev} {
				if (err == nil) != tc.read || (err != nil && delivery.CodeOf(err) != delivery.CodeNotFound) {
					t.Errorf("%s %s: %v, want readable=%v", tc.who.Username, what, err, tc.read)
				}
			}
		}
		if _, err := f.e.JobLogs(f.ctx, member, 987654321, 1, 0); delivery.CodeOf(err) != delivery.CodeNotFound {
			t.Errorf("unknown job: %v", err)
		}
	})
}

// nopSubscriber is a bus with no events; its subscriptions end with the test.
type nopSubscriber struct{}

func (nopSubscriber) Subscribe() (<-chan delivery.Event, func()) {
	return make(chan delivery.Event), func() {}
}

// chanBus is a bus whose one subscription the test feeds by hand.
type chanBus chan delivery.Event

func (b chanBus) Subscribe() (<-chan delivery.Event, func()) { return b, func() {} }

// TestLogStreamEndsWhenReaderRemoved: an open log stream re-checks its
// reader: once the definition's readers stop naming the follower's group,
// the stream ends with no further line, as a new one would be refused.
func TestLogStreamEndsWhenReaderRemoved(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		member := f.user("mia", "VIEWER")
		f.group("ops", member)
		f.group("others")
		def := f.definition(snapshot("secret", environment("dev", afterRelease)))
		f.c.ReleaseDefinition.UpdateOneID(def).SetReaders([]string{"ops"}).ExecX(f.ctx)
		rel := f.release(f.admin, def, "1")
		dep := f.deployment(rel.ID, "dev")
		j := f.job(dep.ID)
		agentID := f.agent()
		if err := f.e.StartJob(f.ctx, j.ID, agentID); err != nil {
			t.Fatal(err)
		}
		if _, err := f.e.AppendLogs(f.ctx, j.ID, agentID, []delivery.LogLine{{Seq: 1, Text: "one"}}); err != nil {
			t.Fatal(err)
		}
		bus := make(chanBus, 4)
		lines, err := f.e.FollowDeploymentLog(f.ctx, member, bus, dep.ID, 1)
		if err != nil {
			t.Fatal(err)
		}
		next := func() (*delivery.LogLine, bool) {
			t.Helper()
			select {
			case l, ok := <-lines:
				return l, ok
			case <-time.After(10 * time.Second):
				t.Fatal("no line and no end within 10 s")
				return nil, false
			}
		}
		if l, ok := next(); !ok || l.Text != "one" {
			t.Fatalf("first line: %+v %v", l, ok)
		}
		f.c.ReleaseDefinition.UpdateOneID(def).SetReaders([]string{"others"}).ExecX(f.ctx)
		if _, err := f.e.AppendLogs(f.ctx, j.ID, agentID, []delivery.LogLine{{Seq: 2, Text: "two"}}); err != nil {
			t.Fatal(err)
		}
		bus <- delivery.Event{Type: delivery.EventDefinitionChanged, DefinitionID: def}
		bus <- delivery.Event{Type: delivery.EventLogAppended, DeploymentID: dep.ID, JobID: j.ID,
			Lines: []delivery.LogLine{{Seq: 2, Text: "two"}}}
		if l, ok := next(); ok {
			t.Fatalf("stream went on after the reader was removed: %+v", l)
		}
	})
}
