package server_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/ent/job"
)

// TestStepProgressReachesGraphQL: ##vso[task.setprogress] as the agent reports it reaches a
// releaseEvents subscriber as a StepProgressEvent (once per change: a resent report adds no
// event), and the job step's progress in queries.
func TestStepProgressReachesGraphQL(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		ctx := context.Background()
		editor := h.tokenFor("eddie", delivery.RoleEditor)
		dash := h.tokenFor("dash", delivery.RoleViewer)
		h.tokenFor("pam", delivery.RoleViewer)
		h.tokenFor("pat", delivery.RoleViewer)
		h.ok(h.admin, `mutation($u: String!) { createServiceConnection(input: {name: "jenkins", kind: JENKINS, url: $u}) { id } }`, map[string]any{"u": anyBuildJenkins(t)})
		defID := dig(h.ok(editor, threeEnvDefinition, map[string]any{"c": "jenkins"}), "createDefinition", "id").(string)
		ws := h.dialWS(dash, false)
		ws.ack()
		ws.subscribe("p", `subscription($d: ID) { releaseEvents(definitionId: $d) { __typename
		  ... on StepProgressEvent { type environment deploymentId jobId step name percent text deployment { id } } } }`, map[string]any{"d": defID})
		h.ok(editor, `mutation($d: ID!) { createRelease(input: {definitionId: $d, artifacts: [{alias: "web", buildNumber: "42", buildId: "42"}]}) { id } }`,
			map[string]any{"d": defID})
		agent := registerAgent(t, h.srv.Engine, "a1")
		e := h.srv.Engine
		j := e.Client().Job.Query().Where(job.StatusEQ(job.StatusQUEUED)).OnlyX(ctx)
		if err := e.StartJob(ctx, j.ID, agent.ID); err != nil {
			t.Fatal(err)
		}
		if err := e.StepStarted(ctx, j.ID, agent.ID, 1, "deploy", time.Now()); err != nil {
			t.Fatal(err)
		}
		for _, p := range []int{30, 30, 70} { // the second is a resent report
			if err := e.StepProgress(ctx, j.ID, agent.ID, 1, p, fmt.Sprintf("copying %d%%", p)); err != nil {
				t.Fatal(err)
			}
		}
		var got []string
		for len(got) < 2 {
			ev := ws.event("p", "releaseEvents", eventWait)
			if ev["__typename"] != "StepProgressEvent" {
				continue
			}
			if ev["environment"] != "dev" || ev["step"] != float64(1) || ev["name"] != "deploy" || ev["jobId"] != fmt.Sprint(j.ID) ||
				ev["deployment"] == nil || ev["type"] != delivery.EventStepProgress {
				t.Errorf("event %v", toJSON(ev))
			}
			got = append(got, fmt.Sprintf("%v:%v", ev["percent"], ev["text"]))
		}
		if fmt.Sprint(got) != "[30:copying 30% 70:copying 70%]" {
			t.Errorf("progress events %v", got)
		}
		evs, err := e.StoredEvents(ctx, 0, 500)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, ev := range evs {
			if ev.Type == delivery.EventStepProgress {
				n++
			}
		}
		if n != 2 {
			t.Errorf("%d stored progress events, want 2 (a resent report adds none)", n)
		}
		steps := h.ok(dash, `query($id: ID!) { node(id: $id) { ... on Job { steps { position progress progressText } } } }`, map[string]any{"id": fmt.Sprint(j.ID)})
		if s := toJSON(steps); !contains(s, `"position":1,"progress":70,"progressText":"copying 70%"`) {
			t.Errorf("job steps %s", s)
		}
	})
}
