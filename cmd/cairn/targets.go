package main

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Deployment groups and the targets of a deployment (issue 27).

var targetsCommand = &command{
	name: "targets", synopsis: "DEPLOYMENT-ID",
	help: "the deployment-group targets of a deployment: status, times, agent, reason",
	run: func(c *cmd) error {
		cl, err := c.open(1, "DEPLOYMENT-ID")
		if err != nil {
			return err
		}
		type target struct {
			ID            string  `json:"id"`
			Phase         int     `json:"phase"`
			Target        string  `json:"target"`
			Status        string  `json:"status"`
			QueuedAt      string  `json:"queuedAt"`
			StartedAt     *string `json:"startedAt"`
			FinishedAt    *string `json:"finishedAt"`
			WaitingReason string  `json:"waitingReason"`
			ResultReason  string  `json:"resultReason"`
			Agent         *struct {
				Name string `json:"name"`
			} `json:"agent"`
		}
		var res struct {
			Node *struct {
				ID      string   `json:"id"`
				Status  string   `json:"status"`
				Targets []target `json:"targets"`
			} `json:"node"`
		}
		if err := c.call(cl, `query($d: ID!) { node(id: $d) { ... on Deployment { id status
		    targets { id phase target status queuedAt startedAt finishedAt waitingReason resultReason agent { name } } } } }`,
			map[string]any{"d": c.args[0]}, &res); err != nil {
			return err
		}
		if res.Node == nil || res.Node.ID == "" { // nothing, or something that is not a deployment
			return fmt.Errorf("no deployment %s", c.args[0])
		}
		if c.g.output == "json" {
			return c.printJSON(res.Node.Targets)
		}
		if len(res.Node.Targets) == 0 {
			fmt.Fprintf(c.stdout, "deployment %s (%s) has no deployment-group phase, or none has started\n", res.Node.ID, res.Node.Status)
			return nil
		}
		rows := [][]string{{"PHASE", "TARGET", "STATUS", "STARTED", "FINISHED", "DURATION", "AGENT", "REASON"}}
		for _, t := range res.Node.Targets {
			agent, reason := "", t.ResultReason
			if t.Agent != nil {
				agent = t.Agent.Name
			}
			if reason == "" && t.Status == "QUEUED" {
				reason = t.WaitingReason
			}
			rows = append(rows, []string{strconv.Itoa(t.Phase), t.Target, t.Status, secondsTime(t.StartedAt),
				secondsTime(t.FinishedAt), duration(t.StartedAt, t.FinishedAt), agent, oneLine(reason, 200)})
		}
		c.table(rows)
		return nil
	},
}

var deploymentGroupsCommand = &command{
	name: "deployment-groups", help: "the deployment groups and their targets: tags, online state, last deployment",
	run: func(c *cmd) error {
		cl, err := c.open(0, "no arguments")
		if err != nil {
			return err
		}
		type group struct {
			Name        string `json:"name"`
			Description string `json:"description"`
			Targets     []struct {
				ID             string   `json:"id"`
				Name           string   `json:"name"`
				Enabled        bool     `json:"enabled"`
				Online         bool     `json:"online"`
				Tags           []string `json:"tags"`
				LastSeenAt     *string  `json:"lastSeenAt"`
				LastDeployment *struct {
					ID          string `json:"id"`
					Status      string `json:"status"`
					Environment string `json:"environmentName"`
					Release     struct {
						Name string `json:"name"`
					} `json:"release"`
				} `json:"lastDeployment"`
			} `json:"targets"`
		}
		var res struct {
			DeploymentGroups []group `json:"deploymentGroups"`
		}
		if err := c.call(cl, `{ deploymentGroups { name description targets { id name enabled online tags lastSeenAt
		    lastDeployment { id status environmentName release { name } } } } }`, nil, &res); err != nil {
			return err
		}
		for _, g := range res.DeploymentGroups {
			sort.Slice(g.Targets, func(i, j int) bool { return g.Targets[i].Name < g.Targets[j].Name })
		}
		if c.g.output == "json" {
			return c.printJSON(res.DeploymentGroups)
		}
		rows := [][]string{{"GROUP", "TARGET", "STATE", "TAGS", "LAST DEPLOYMENT", "LAST SEEN"}}
		for _, g := range res.DeploymentGroups {
			if len(g.Targets) == 0 {
				rows = append(rows, []string{g.Name, "(no target)", "", "", "", ""})
			}
			for _, t := range g.Targets {
				state := "offline"
				switch {
				case !t.Enabled:
					state = "disabled"
				case t.Online:
					state = "online"
				}
				last, seen := "", ""
				if d := t.LastDeployment; d != nil {
					last = fmt.Sprintf("%s %s → %s %s", d.ID, d.Release.Name, d.Environment, d.Status)
				}
				if t.LastSeenAt != nil {
					seen = shortTime(*t.LastSeenAt)
				}
				rows = append(rows, []string{g.Name, t.Name, state, strings.Join(t.Tags, ","), last, seen})
			}
		}
		c.table(rows)
		return nil
	},
}

// secondsTime shows an RFC 3339 time as "2006-01-02 15:04:05" in local time ("" for none).
func secondsTime(s *string) string {
	if s == nil {
		return ""
	}
	t, err := time.Parse(time.RFC3339Nano, *s)
	if err != nil {
		return *s
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

// duration is the time from start to end, rounded to a tenth of a second ("" unless both).
func duration(start, end *string) string {
	if start == nil || end == nil {
		return ""
	}
	s, err1 := time.Parse(time.RFC3339Nano, *start)
	e, err2 := time.Parse(time.RFC3339Nano, *end)
	if err1 != nil || err2 != nil {
		return ""
	}
	return e.Sub(s).Round(100 * time.Millisecond).String()
}
