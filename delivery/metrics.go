package delivery

import (
	"context"
	"fmt"

	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/agent"
	"github.com/cairnhq/cairn/ent/deployment"
	"github.com/cairnhq/cairn/ent/hookdelivery"
	"github.com/cairnhq/cairn/ent/job"
	"github.com/cairnhq/cairn/ent/manualintervention"
	"github.com/cairnhq/cairn/ent/notification"
)

// Gauges is the installation's state as counts, read in one pass for a metrics scrape. Every
// replica reads the same database, so every replica reports the same numbers (dashboards take
// max, not sum, across replicas).
type Gauges struct {
	// Deployments counts deployments by environment name and status.
	Deployments []DeploymentCount
	// Queued counts QUEUED jobs by waiting reason ("" while the dispatcher has not said why).
	Queued []QueuedCount
	// Agents counts agents: enabled and online, enabled and offline, disabled.
	AgentsOnline, AgentsOffline, AgentsDisabled int
	// Notifications and Hooks are the email and outgoing-hook outboxes by status (PENDING,
	// SENT/SUCCEEDED, FAILED); the Retrying counts are the PENDING rows that failed at least once.
	Notifications, Hooks                 map[string]int
	NotificationsRetrying, HooksRetrying int
	// InterventionsPending counts the manual interventions waiting for a person.
	InterventionsPending int
}

// DeploymentCount is the number of deployments of environments named Environment in Status.
type DeploymentCount struct {
	Environment, Status string
	Count               int
}

// QueuedCount is the number of queued jobs waiting for Reason.
type QueuedCount struct {
	Reason string
	Count  int
}

// ReadGauges counts deployments, queued jobs, agents, pending manual interventions and the
// outboxes' rows: a few grouped
// queries, whatever the number of rows' owners. It is not scoped by definition readers: its
// callers (the metrics endpoint) see only counts.
func (e *Engine) ReadGauges(ctx context.Context) (*Gauges, error) {
	g := &Gauges{Notifications: map[string]int{}, Hooks: map[string]int{}}
	c := e.client
	var deps []struct {
		EnvironmentName string `json:"environment_name"`
		Status          string `json:"status"`
		Count           int    `json:"count"`
	}
	if err := c.Deployment.Query().GroupBy(deployment.FieldEnvironmentName, deployment.FieldStatus).
		Aggregate(ent.Count()).Scan(ctx, &deps); err != nil {
		return nil, fmt.Errorf("counting deployments: %w", err)
	}
	for _, d := range deps {
		g.Deployments = append(g.Deployments, DeploymentCount{Environment: d.EnvironmentName, Status: d.Status, Count: d.Count})
	}
	var queued []struct {
		WaitingReason string `json:"waiting_reason"`
		Count         int    `json:"count"`
	}
	if err := c.Job.Query().Where(job.StatusEQ(job.StatusQUEUED)).GroupBy(job.FieldWaitingReason).
		Aggregate(ent.Count()).Scan(ctx, &queued); err != nil {
		return nil, fmt.Errorf("counting queued jobs: %w", err)
	}
	for _, q := range queued {
		g.Queued = append(g.Queued, QueuedCount{Reason: q.WaitingReason, Count: q.Count})
	}
	var agents []struct {
		Enabled bool `json:"enabled"`
		Online  bool `json:"online"`
		Count   int  `json:"count"`
	}
	if err := c.Agent.Query().GroupBy(agent.FieldEnabled, agent.FieldOnline).
		Aggregate(ent.Count()).Scan(ctx, &agents); err != nil {
		return nil, fmt.Errorf("counting agents: %w", err)
	}
	for _, a := range agents {
		switch {
		case !a.Enabled:
			g.AgentsDisabled += a.Count
		case a.Online:
			g.AgentsOnline += a.Count
		default:
			g.AgentsOffline += a.Count
		}
	}
	var outbox []struct {
		Status string `json:"status"`
		Count  int    `json:"count"`
	}
	if err := c.Notification.Query().GroupBy(notification.FieldStatus).Aggregate(ent.Count()).Scan(ctx, &outbox); err != nil {
		return nil, fmt.Errorf("counting notifications: %w", err)
	}
	for _, o := range outbox {
		g.Notifications[o.Status] = o.Count
	}
	outbox = outbox[:0]
	if err := c.HookDelivery.Query().GroupBy(hookdelivery.FieldStatus).Aggregate(ent.Count()).Scan(ctx, &outbox); err != nil {
		return nil, fmt.Errorf("counting hook deliveries: %w", err)
	}
	for _, o := range outbox {
		g.Hooks[o.Status] = o.Count
	}
	n, err := c.Notification.Query().Where(notification.StatusEQ(notification.StatusPENDING), notification.AttemptsGT(0)).Count(ctx)
	if err != nil {
		return nil, fmt.Errorf("counting retried notifications: %w", err)
	}
	g.NotificationsRetrying = n
	if n, err = c.HookDelivery.Query().Where(hookdelivery.StatusEQ(hookdelivery.StatusPENDING), hookdelivery.AttemptsGT(0)).Count(ctx); err != nil {
		return nil, fmt.Errorf("counting retried hook deliveries: %w", err)
	}
	g.HooksRetrying = n
	if n, err = c.ManualIntervention.Query().Where(manualintervention.StatusEQ(manualintervention.StatusPENDING)).Count(ctx); err != nil {
		return nil, fmt.Errorf("counting pending manual interventions: %w", err)
	}
	g.InterventionsPending = n
	return g, nil
}
