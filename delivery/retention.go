package delivery

import (
	"context"
	"fmt"
	"sort"
	"sync/atomic"
	"time"

	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/approval"
	"github.com/cairnhq/cairn/ent/definitionrevision"
	"github.com/cairnhq/cairn/ent/deployment"
	"github.com/cairnhq/cairn/ent/manualintervention"
	"github.com/cairnhq/cairn/ent/release"
	"github.com/cairnhq/cairn/ent/releasedefinition"
	"github.com/cairnhq/cairn/ent/schema/spec"
)

// RetentionConfig is the server-wide side of retention: the default policy of an environment
// that names none, the maximums a definition may ask for, the other records' retention and
// how the pruning loop paces itself. Zero values take the defaults of DefaultRetention.
type RetentionConfig struct {
	// DefaultDays and DefaultReleases are the policy of an environment without one (and of
	// environments no longer in the definition): Azure's defaults, 30 days and 3 releases.
	DefaultDays, DefaultReleases int
	// MaxDays and MaxReleases cap what a definition may ask for (Azure: 365 and 25).
	MaxDays, MaxReleases int
	// LogDays prunes a release's job logs, step attachments and gate samples once nothing
	// happened to it for that many days, though the release stays (-1: logs go with their
	// release).
	LogDays int
	// DeletedDefinitionDays is how long a deleted definition (with its releases) can be
	// brought back by undeleteDefinition before it is purged.
	DeletedDefinitionDays int
	// WebhookDeliveryDays, HookDeliveryDays, NotificationDays and SessionDays keep those
	// records (final ones only, for the outboxes; ended ones, for sessions) that many days.
	WebhookDeliveryDays, HookDeliveryDays, NotificationDays, SessionDays int
	// Interval is how often the loop runs; BatchSize releases are deleted between pauses of
	// BatchPause, so that deployments keep the database between batches.
	Interval   time.Duration
	BatchSize  int
	BatchPause time.Duration
}

// DefaultRetention is the retention configuration of a server that sets nothing.
var DefaultRetention = RetentionConfig{
	DefaultDays: 30, DefaultReleases: 3, MaxDays: 365, MaxReleases: 25,
	LogDays: -1, DeletedDefinitionDays: 30,
	WebhookDeliveryDays: 30, HookDeliveryDays: 30, NotificationDays: 30, SessionDays: 7,
	Interval: time.Hour, BatchSize: 20, BatchPause: 20 * time.Millisecond,
}

// withDefaults fills zero fields from DefaultRetention.
func (c RetentionConfig) withDefaults() RetentionConfig {
	d := DefaultRetention
	set := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	set(&c.DefaultDays, d.DefaultDays)
	set(&c.DefaultReleases, d.DefaultReleases)
	set(&c.MaxDays, d.MaxDays)
	set(&c.MaxReleases, d.MaxReleases)
	set(&c.LogDays, d.LogDays)
	set(&c.DeletedDefinitionDays, d.DeletedDefinitionDays)
	set(&c.WebhookDeliveryDays, d.WebhookDeliveryDays)
	set(&c.HookDeliveryDays, d.HookDeliveryDays)
	set(&c.NotificationDays, d.NotificationDays)
	set(&c.SessionDays, d.SessionDays)
	set(&c.BatchSize, d.BatchSize)
	if c.Interval <= 0 {
		c.Interval = d.Interval
	}
	if c.BatchPause < 0 {
		c.BatchPause = 0
	}
	return c
}

// Validate checks a configuration as the server's flags give it.
func (c RetentionConfig) Validate() error {
	for _, f := range []struct {
		name string
		v    int
	}{
		{"retention-default-days", c.DefaultDays}, {"retention-default-releases", c.DefaultReleases},
		{"retention-max-days", c.MaxDays}, {"retention-max-releases", c.MaxReleases},
		{"retention-deleted-definition-days", c.DeletedDefinitionDays},
		{"retention-webhook-delivery-days", c.WebhookDeliveryDays}, {"retention-hook-delivery-days", c.HookDeliveryDays},
		{"retention-notification-days", c.NotificationDays}, {"retention-session-days", c.SessionDays},
		{"retention-batch-size", c.BatchSize},
	} {
		if f.v < 0 || f.v > 100000 {
			return fmt.Errorf("--%s: %d is out of range (0 to 100000; 0 takes the default)", f.name, f.v)
		}
	}
	if c.LogDays < -1 || c.LogDays > 100000 {
		return fmt.Errorf("--retention-log-days: %d is out of range (-1: with the release, or 1 to 100000)", c.LogDays)
	}
	d := c.withDefaults()
	if d.DefaultDays > d.MaxDays || d.DefaultReleases > d.MaxReleases {
		return fmt.Errorf("the default retention (%d days, %d releases) exceeds the maximum (%d days, %d releases)",
			d.DefaultDays, d.DefaultReleases, d.MaxDays, d.MaxReleases)
	}
	return nil
}

// validate reports a definition's retention policies outside [0, max] as problems.
func (c RetentionConfig) validate(p *problems, doc *spec.DefinitionSnapshot) {
	for i, env := range doc.Environments {
		if env.Retention == nil {
			continue
		}
		f := fmt.Sprintf("environments[%d].retention", i)
		if r := env.Retention.DaysToKeep; r < 0 || r > c.MaxDays {
			p.add(f+".daysToKeep", "is %d; use 0 to %d (the server's maximum, --retention-max-days)", r, c.MaxDays)
		}
		if r := env.Retention.ReleasesToKeep; r < 0 || r > c.MaxReleases {
			p.add(f+".releasesToKeep", "is %d; use 0 to %d (the server's maximum, --retention-max-releases)", r, c.MaxReleases)
		}
	}
}

// retentionStats are the pruning loop's counters of this engine, for metrics.
type retentionStats struct {
	runs, releasesDeleted, logsPruned, recordsPruned, skipped atomic.Int64
	lastRunNanos, lastRunUnix                                 atomic.Int64
}

// RetentionStats are the counters of this engine's retention runs (per replica: sum them).
type RetentionStats struct {
	Runs, ReleasesDeleted, LogsPruned, RecordsPruned, Skipped int64
	LastRunSeconds                                            float64
	LastRunUnix                                               int64
}

// RetentionStats returns this engine's retention counters.
func (e *Engine) RetentionStats() RetentionStats {
	s := &e.retStats
	return RetentionStats{
		Runs: s.runs.Load(), ReleasesDeleted: s.releasesDeleted.Load(), LogsPruned: s.logsPruned.Load(),
		RecordsPruned: s.recordsPruned.Load(), Skipped: s.skipped.Load(),
		LastRunSeconds: time.Duration(s.lastRunNanos.Load()).Seconds(), LastRunUnix: s.lastRunUnix.Load(),
	}
}

// RetentionVerdict says whether retention keeps a release.
type RetentionVerdict string

// The verdicts.
const (
	RetentionKept RetentionVerdict = "KEPT"
	RetentionDue  RetentionVerdict = "DUE"
)

// ReleaseRetention is one release's verdict and its reasons in words.
type ReleaseRetention struct {
	ReleaseID int
	Name      string
	Verdict   RetentionVerdict
	// DueAt is, for a kept release, when it becomes due if nothing changes (nil: no date,
	// e.g. kept forever or current somewhere); for a due one, since when.
	DueAt        *time.Time
	Reasons      []string
	LogsPrunedAt *time.Time
	// logsDue is set when log retention would prune the release's logs now.
	logsDue bool
	// updatedAt is the release row's updated_at as read, the condition of its deletion.
	updatedAt time.Time
}

// RetentionPreview is the verdict of every release of a definition, newest first.
type RetentionPreview struct {
	DefinitionID int
	EvaluatedAt  time.Time
	Releases     []ReleaseRetention
}

// RetentionPreview says, for each release of definition id, whether retention keeps it and
// why. It reads like the definition: NOT_FOUND for outsiders of its readers.
func (e *Engine) RetentionPreview(ctx context.Context, actor Actor, id int) (*RetentionPreview, error) {
	if err := actor.Require(RoleViewer, "reading a retention preview"); err != nil {
		return nil, err
	}
	if _, err := e.Definition(ctx, actor, id); err != nil {
		return nil, err
	}
	facts, err := readRetentionFacts(ctx, e.client, id)
	if err != nil {
		return nil, fmt.Errorf("previewing retention of definition %d: %w", id, err)
	}
	return &RetentionPreview{DefinitionID: id, EvaluatedAt: e.clock.Now(), Releases: e.retention.evaluate(facts, e.clock.Now())}, nil
}

// retentionFacts is what the rule reads of one definition.
type retentionFacts struct {
	definitionID int
	policies     map[string]spec.RetentionPolicy // by environment name, from the latest revision
	envOrder     []string
	releases     []*ent.Release // newest first
	deployments  []*ent.Deployment
	// pendingApprovals and pendingInterventions name the environments where a release waits
	// for a person.
	pendingApprovals, pendingInterventions map[int][]string
	watermark                              retentionWatermark
}

// retentionWatermark is the newest deployment of a definition. What turns a due release into
// a kept one is a change of its own row (checked apart), a deployment of its own still open
// (checked apart), or a new deployment (of it: a redeploy or rollback, or an approval it waits
// for); deployments ending, and due releases being deleted, only ever make more releases due
// (a due release is in no environment's newest, current or previous). So a deletion needs only
// this to be unchanged since the verdict: one indexed read, whatever the definition's size.
type retentionWatermark struct{ maxID int }

func readWatermark(ctx context.Context, c *ent.Client, defID int) (retentionWatermark, error) {
	var w retentionWatermark
	last, err := c.Deployment.Query().Where(deployment.DefinitionID(defID)).Order(ent.Desc(deployment.FieldID)).
		Select(deployment.FieldID).First(ctx)
	switch {
	case ent.IsNotFound(err):
		return w, nil
	case err != nil:
		return w, fmt.Errorf("reading deployments: %w", err)
	}
	w.maxID = last.ID
	return w, nil
}

var finalDeploymentStatuses = []deployment.Status{
	deployment.StatusSUCCEEDED, deployment.StatusPARTIALLY_SUCCEEDED, deployment.StatusFAILED,
	deployment.StatusREJECTED, deployment.StatusCANCELED,
}

func readRetentionFacts(ctx context.Context, c *ent.Client, defID int) (*retentionFacts, error) {
	f := &retentionFacts{definitionID: defID, policies: map[string]spec.RetentionPolicy{},
		pendingApprovals: map[int][]string{}, pendingInterventions: map[int][]string{}}
	var err error
	if f.watermark, err = readWatermark(ctx, c, defID); err != nil {
		return nil, err
	}
	rev, err := c.DefinitionRevision.Query().Where(definitionrevision.DefinitionID(defID)).
		Order(ent.Desc(definitionrevision.FieldRevision)).First(ctx)
	if err != nil && !ent.IsNotFound(err) {
		return nil, fmt.Errorf("reading the latest revision: %w", err)
	}
	if rev != nil {
		for _, env := range rev.Snapshot.Environments {
			f.envOrder = append(f.envOrder, env.Name)
			if env.Retention != nil {
				f.policies[env.Name] = *env.Retention
			}
		}
	}
	f.releases, err = c.Release.Query().Where(release.DefinitionID(defID)).
		Select(release.FieldID, release.FieldName, release.FieldNumber, release.FieldStatus, release.FieldCreatedAt,
			release.FieldUpdatedAt, release.FieldKeepForever, release.FieldKeepForeverBy, release.FieldLogsPrunedAt,
			release.FieldDefinitionID).
		Order(ent.Desc(release.FieldNumber), ent.Desc(release.FieldID)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading releases: %w", err)
	}
	f.deployments, err = c.Deployment.Query().Where(deployment.DefinitionID(defID)).
		Select(deployment.FieldID, deployment.FieldReleaseID, deployment.FieldEnvironmentName, deployment.FieldStatus,
			deployment.FieldQueuedAt, deployment.FieldStartedAt, deployment.FieldCompletedAt, deployment.FieldCreatedAt).
		Order(ent.Asc(deployment.FieldID)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading deployments: %w", err)
	}
	aps, err := c.Approval.Query().Where(approval.StatusEQ(approval.StatusPENDING),
		approval.HasDeploymentWith(deployment.DefinitionID(defID))).WithDeployment().All(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading pending approvals: %w", err)
	}
	for _, a := range aps {
		f.pendingApprovals[a.ReleaseID] = append(f.pendingApprovals[a.ReleaseID], a.Edges.Deployment.EnvironmentName)
	}
	mis, err := c.ManualIntervention.Query().Where(manualintervention.StatusEQ(manualintervention.StatusPENDING),
		manualintervention.HasDeploymentWith(deployment.DefinitionID(defID))).WithDeployment().All(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading pending manual interventions: %w", err)
	}
	for _, m := range mis {
		f.pendingInterventions[m.ReleaseID] = append(f.pendingInterventions[m.ReleaseID], m.Edges.Deployment.EnvironmentName)
	}
	return f, nil
}

// deployedAt is when a deployment counts as deployed for retention: when it entered the
// queue (Azure: "when deployment to that stage starts"; pending approval does not count).
func deployedAt(d *ent.Deployment) *time.Time {
	switch {
	case d.QueuedAt != nil:
		return d.QueuedAt
	case d.StartedAt != nil:
		return d.StartedAt
	}
	return nil
}

func succeeded(s deployment.Status) bool {
	return s == deployment.StatusSUCCEEDED || s == deployment.StatusPARTIALLY_SUCCEEDED
}

func day(t time.Time) string { return t.UTC().Format("2006-01-02") }

func ordinal(n int) string {
	suffix := "th"
	if n%100 < 11 || n%100 > 13 {
		switch n % 10 {
		case 1:
			suffix = "st"
		case 2:
			suffix = "nd"
		case 3:
			suffix = "rd"
		}
	}
	return fmt.Sprintf("%d%s", n, suffix)
}

// policy is the retention policy of environment env: its own, or the server's default (also
// for an environment no longer in the definition, as Azure does for a deleted stage).
func (c RetentionConfig) policy(f *retentionFacts, env string) (spec.RetentionPolicy, bool) {
	if p, ok := f.policies[env]; ok {
		return p, true
	}
	return spec.RetentionPolicy{DaysToKeep: c.DefaultDays, ReleasesToKeep: c.DefaultReleases}, false
}

// evaluate applies the retention rule (docs/decisions.md, "Retention") to one definition's
// releases at now. A release is kept when any of these holds:
//   - it is kept forever, has work pending or running (a deployment not final, an approval or
//     a manual intervention waiting), is the definition's newest release, or is the current or
//     previous successful deployment of some environment;
//   - for some environment it was deployed to: it is among that environment's
//     releasesToKeep most recently deployed releases, or it was deployed there, or changed,
//     within daysToKeep days;
//   - it was deployed nowhere and was created or changed within the longest daysToKeep of the
//     definition's environments.
//
// Otherwise it is due.
func (c RetentionConfig) evaluate(f *retentionFacts, now time.Time) []ReleaseRetention {
	// per environment: release → last deployed time; ordering; current and previous.
	lastIn := map[string]map[int]time.Time{}
	current, previous := map[string]int{}, map[string]int{}
	open := map[int][]string{}
	var envNames []string
	seenEnv := map[string]bool{}
	type doneDep struct {
		rel int
		at  time.Time
		id  int
	}
	done := map[string][]doneDep{}
	for _, d := range f.deployments {
		env := d.EnvironmentName
		if !seenEnv[env] {
			seenEnv[env] = true
			envNames = append(envNames, env)
			lastIn[env] = map[int]time.Time{}
		}
		if !deploymentFinal(d.Status) {
			open[d.ReleaseID] = append(open[d.ReleaseID], fmt.Sprintf("deployment to %s is %s", env, d.Status))
		}
		if at := deployedAt(d); at != nil {
			if cur, ok := lastIn[env][d.ReleaseID]; !ok || at.After(cur) {
				lastIn[env][d.ReleaseID] = *at
			}
		}
		if succeeded(d.Status) {
			at := d.CreatedAt
			if d.CompletedAt != nil {
				at = *d.CompletedAt
			}
			done[env] = append(done[env], doneDep{d.ReleaseID, at, d.ID})
		}
	}
	for env, ds := range done {
		sort.Slice(ds, func(i, j int) bool {
			if !ds[i].at.Equal(ds[j].at) {
				return ds[i].at.After(ds[j].at)
			}
			return ds[i].id > ds[j].id
		})
		current[env] = ds[0].rel
		for _, d := range ds[1:] {
			if d.rel != ds[0].rel {
				previous[env] = d.rel
				break
			}
		}
	}
	// rank[env][release] is the release's position among the environment's most recently
	// deployed releases (1 = newest).
	rank := map[string]map[int]int{}
	for _, env := range envNames {
		type rl struct {
			rel int
			at  time.Time
		}
		var list []rl
		for rel, at := range lastIn[env] {
			list = append(list, rl{rel, at})
		}
		sort.Slice(list, func(i, j int) bool {
			if !list[i].at.Equal(list[j].at) {
				return list[i].at.After(list[j].at)
			}
			return list[i].rel > list[j].rel
		})
		rank[env] = map[int]int{}
		for i, r := range list {
			rank[env][r.rel] = i + 1
		}
	}
	longest := 0
	for _, env := range f.envOrder {
		p, _ := c.policy(f, env)
		longest = max(longest, p.DaysToKeep)
	}
	if len(f.envOrder) == 0 {
		longest = c.DefaultDays
	}
	newest := 0
	if len(f.releases) > 0 {
		newest = f.releases[0].ID
	}
	// Environments in the definition's order, then those no longer in it.
	order := append([]string(nil), f.envOrder...)
	for _, env := range envNames {
		if !contains(order, env) {
			order = append(order, env)
		}
	}

	out := make([]ReleaseRetention, 0, len(f.releases))
	for _, r := range f.releases {
		rr := ReleaseRetention{ReleaseID: r.ID, Name: r.Name, LogsPrunedAt: r.LogsPrunedAt, updatedAt: r.UpdatedAt}
		var reasons []string
		absolute := false
		if r.KeepForever {
			absolute = true
			who := r.KeepForeverBy
			if who == "" {
				who = "someone"
			}
			reasons = append(reasons, "keep forever by "+who)
		}
		for _, w := range open[r.ID] {
			absolute = true
			reasons = append(reasons, w)
		}
		for _, env := range dedupe(f.pendingApprovals[r.ID]) {
			absolute = true
			reasons = append(reasons, "pending approval in "+env)
		}
		for _, env := range dedupe(f.pendingInterventions[r.ID]) {
			absolute = true
			reasons = append(reasons, "manual intervention pending in "+env)
		}
		if r.Status == release.StatusDRAFT {
			reasons = append(reasons, "draft")
		}
		for _, env := range order {
			if current[env] == r.ID {
				absolute = true
				reasons = append(reasons, "current in "+env)
			} else if previous[env] == r.ID {
				absolute = true
				reasons = append(reasons, "previous in "+env+" (the rollback target)")
			}
		}
		if r.ID == newest {
			absolute = true
			reasons = append(reasons, "the definition's newest release")
		}
		// Days and counts, per environment the release was deployed to.
		var until time.Time // latest end of a days window that still keeps it
		var lapsed time.Time
		byCount := false
		var notes []string
		deployedSomewhere := false
		for _, env := range order {
			at, ok := lastIn[env][r.ID]
			if !ok {
				continue
			}
			deployedSomewhere = true
			p, own := c.policy(f, env)
			of := env
			if !own {
				of = env + " (server default)"
			}
			if n := rank[env][r.ID]; n <= p.ReleasesToKeep {
				byCount = true
				reasons = append(reasons, fmt.Sprintf("within the %d newest of %s", p.ReleasesToKeep, of))
			} else {
				notes = append(notes, fmt.Sprintf("%s newest of %s, which keeps %d", ordinal(n), of, p.ReleasesToKeep))
			}
			last := at
			if r.UpdatedAt.After(last) {
				last = r.UpdatedAt
			}
			end := last.AddDate(0, 0, p.DaysToKeep)
			if now.Before(end) {
				if end.After(until) {
					until = end
				}
				reasons = append(reasons, fmt.Sprintf("deployed to %s on %s, within its %d days", of, day(at), p.DaysToKeep))
			} else {
				if end.After(lapsed) {
					lapsed = end
				}
				notes = append(notes, fmt.Sprintf("last deployed to %s on %s; its %d days ended on %s", of, day(at), p.DaysToKeep, day(end)))
			}
		}
		if !deployedSomewhere {
			last := r.CreatedAt
			if r.UpdatedAt.After(last) {
				last = r.UpdatedAt
			}
			end := last.AddDate(0, 0, longest)
			if now.Before(end) {
				until = end
				reasons = append(reasons, fmt.Sprintf("deployed nowhere; changed on %s, within %d days", day(last), longest))
			} else {
				lapsed = end
				notes = append(notes, fmt.Sprintf("deployed nowhere; changed on %s, %d days ended on %s", day(last), longest, day(end)))
			}
		}
		if absolute || byCount || !until.IsZero() {
			rr.Verdict = RetentionKept
			rr.Reasons = reasons
			if !absolute && !byCount {
				rr.DueAt = timePtr(until)
				rr.Reasons = append(rr.Reasons, fmt.Sprintf("deleted on %s unless deployed again, changed or kept forever", day(until)))
			}
		} else {
			rr.Verdict = RetentionDue
			if !lapsed.IsZero() {
				rr.DueAt = timePtr(lapsed)
			}
			rr.Reasons = append(reasons, notes...)
			if len(rr.Reasons) == 0 {
				rr.Reasons = []string{"no rule keeps it"}
			}
		}
		// Logs: pruned sooner than the release when log retention is on.
		if c.LogDays > 0 && rr.Verdict == RetentionKept && r.LogsPrunedAt == nil && !r.KeepForever &&
			len(open[r.ID]) == 0 && len(f.pendingApprovals[r.ID]) == 0 && len(f.pendingInterventions[r.ID]) == 0 {
			last := r.UpdatedAt
			for _, env := range order {
				if at, ok := lastIn[env][r.ID]; ok && at.After(last) {
					last = at
				}
			}
			isCurrent := false
			for _, env := range order {
				isCurrent = isCurrent || current[env] == r.ID || previous[env] == r.ID
			}
			if !isCurrent && !now.Before(last.AddDate(0, 0, c.LogDays)) {
				rr.logsDue = true
				rr.Reasons = append(rr.Reasons, fmt.Sprintf("logs due: nothing happened since %s (log retention %d days)", day(last), c.LogDays))
			}
		}
		if r.LogsPrunedAt != nil {
			rr.Reasons = append(rr.Reasons, "logs pruned on "+day(*r.LogsPrunedAt))
		}
		out = append(out, rr)
	}
	return out
}

func timePtr(v time.Time) *time.Time { return &v }

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func dedupe(list []string) []string {
	var out []string
	for _, s := range list {
		if !contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// liveOrDeleted lists definition ids, live and deleted, in id order after afterID.
func liveOrDeleted(ctx context.Context, c *ent.Client, afterID, limit int) ([]*ent.ReleaseDefinition, error) {
	defs, err := c.ReleaseDefinition.Query().Where(releasedefinition.IDGT(afterID)).
		Select(releasedefinition.FieldID, releasedefinition.FieldName, releasedefinition.FieldDeletedAt).
		Order(ent.Asc(releasedefinition.FieldID)).Limit(limit).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading definitions: %w", err)
	}
	return defs, nil
}
