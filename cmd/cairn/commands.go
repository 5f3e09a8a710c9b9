package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// stringList collects a repeatable flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// printJSON writes v indented; every command's -o json.
func (c *cmd) printJSON(v any) error {
	enc := json.NewEncoder(c.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

type viewer struct {
	User struct {
		Username string `json:"username"`
	} `json:"user"`
	Role   string   `json:"role"`
	Scopes []string `json:"scopes"`
}

const viewerQuery = `{ viewer { user { username } role scopes } }`

var loginCommand = &command{
	name: "login", synopsis: "--server URL [--token TOKEN | --token - < file]",
	help: "check a token and keep it (and the server) in the config file (mode 0600)",
	run: func(c *cmd) error {
		if err := c.wantArgs(0, "no arguments"); err != nil {
			return err
		}
		if c.g.server == "" {
			return usagef("--server is required (or CAIRN_SERVER)")
		}
		server, err := normalizeServer(c.g.server)
		if err != nil {
			return err
		}
		token := c.g.token
		if token == "" || token == "-" {
			// Read from stdin, so that the token stays out of the shell history.
			if token == "" {
				fmt.Fprint(c.stderr, "API token: ")
			}
			line, err := bufio.NewReader(c.stdin).ReadString('\n')
			if err != nil && line == "" {
				return errors.New("no token given (--token, CAIRN_TOKEN or one line on stdin)")
			}
			token = strings.TrimSpace(line)
		}
		if token == "" || strings.ContainsAny(token, " \t\r\n") {
			return usagef("the token is empty or contains spaces")
		}
		cl := &client{server: server, token: token, http: &httpClient}
		var v struct{ Viewer viewer }
		if err := c.call(cl, viewerQuery, nil, &v); err != nil {
			return fmt.Errorf("checking the token: %w", err)
		}
		path, err := c.configPath()
		if err != nil {
			return err
		}
		if err := writeConfig(path, config{Server: server, Token: token}); err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
		if c.g.output == "json" {
			return c.printJSON(map[string]any{"server": server, "config": path, "viewer": v.Viewer})
		}
		fmt.Fprintf(c.stdout, "Logged in to %s as %s (%s); token kept in %s\n", server, v.Viewer.User.Username, v.Viewer.Role, path)
		return nil
	},
}

var logoutCommand = &command{
	name: "logout", help: "forget the token kept by cairn login",
	run: func(c *cmd) error {
		path, err := c.configPath()
		if err != nil {
			return err
		}
		cfg, err := readConfig(path)
		if err != nil {
			return err
		}
		cfg.Token = ""
		return writeConfig(path, cfg)
	},
}

var whoamiCommand = &command{
	name: "whoami", help: "the user and role of the token in use",
	run: func(c *cmd) error {
		cl, err := c.client()
		if err != nil {
			return err
		}
		var v struct{ Viewer viewer }
		if err := c.call(cl, viewerQuery, nil, &v); err != nil {
			return err
		}
		if c.g.output == "json" {
			return c.printJSON(v.Viewer)
		}
		fmt.Fprintf(c.stdout, "%s (%s) on %s\n", v.Viewer.User.Username, v.Viewer.Role, cl.server)
		return nil
	},
}

type releaseEnv struct {
	Name   string `json:"name"`
	Rank   int    `json:"rank"`
	Status string `json:"status"`
}

type release struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Number     int    `json:"number"`
	Status     string `json:"status"`
	CreatedAt  string `json:"createdAt"`
	CreatedBy  string `json:"createdBy"`
	Definition struct {
		Name string `json:"name"`
	} `json:"definition"`
	Environments []releaseEnv `json:"environments"`
}

const releaseFields = `id name number status createdAt createdBy definition { name } environments { name rank status }`

// envSummary is "dev SUCCEEDED, prod NOT_STARTED" in rank order.
func envSummary(envs []releaseEnv) string {
	sort.SliceStable(envs, func(i, j int) bool { return envs[i].Rank < envs[j].Rank })
	parts := make([]string, len(envs))
	for i, e := range envs {
		parts[i] = e.Name + " " + e.Status
	}
	return strings.Join(parts, ", ")
}

var releasesListCommand = &command{
	name: "releases list", synopsis: "[--definition NAME] [--first N]",
	help: "the latest releases, newest first",
	flags: func(fs *flag.FlagSet) {
		fs.String("definition", "", "only releases of this definition (by name)")
		fs.Int("first", 20, "how many releases (at most 100)")
	},
	run: func(c *cmd) error {
		if err := c.wantArgs(0, "no arguments"); err != nil {
			return err
		}
		def, first := flagString(c, "definition"), flagInt(c, "first")
		if first < 1 || first > 100 {
			return usagef("--first %d: want 1 to 100", first)
		}
		cl, err := c.client()
		if err != nil {
			return err
		}
		vars := map[string]any{"n": first, "w": map[string]any{}}
		if def != "" {
			vars["w"] = map[string]any{"hasDefinitionWith": []any{map[string]any{"name": def}}}
		}
		var res struct {
			Releases struct {
				Edges []struct {
					Node release `json:"node"`
				} `json:"edges"`
			} `json:"releases"`
		}
		if err := c.call(cl, `query($n: Int, $w: ReleaseWhereInput) { releases(first: $n, where: $w, orderBy: {field: CREATED_AT, direction: DESC}) {
		    edges { node { `+releaseFields+` } } } }`, vars, &res); err != nil {
			return err
		}
		list := make([]release, 0, len(res.Releases.Edges))
		for _, e := range res.Releases.Edges {
			list = append(list, e.Node)
		}
		if c.g.output == "json" {
			return c.printJSON(list)
		}
		rows := [][]string{{"ID", "NAME", "DEFINITION", "STATUS", "CREATED", "BY", "ENVIRONMENTS"}}
		for _, r := range list {
			rows = append(rows, []string{r.ID, r.Name, r.Definition.Name, r.Status, shortTime(r.CreatedAt), r.CreatedBy, envSummary(r.Environments)})
		}
		c.table(rows)
		return nil
	},
}

// definitionID returns the id of the live definition named name.
func (c *cmd) definitionID(cl *client, name string) (string, error) {
	var res struct {
		Definitions struct {
			Edges []struct {
				Node struct {
					ID string `json:"id"`
				} `json:"node"`
			} `json:"edges"`
		} `json:"definitions"`
	}
	if err := c.call(cl, `query($n: String!) { definitions(first: 1, where: {name: $n}) { edges { node { id } } } }`,
		map[string]any{"n": name}, &res); err != nil {
		return "", err
	}
	if len(res.Definitions.Edges) == 0 {
		return "", fmt.Errorf("no definition named %q", name)
	}
	return res.Definitions.Edges[0].Node.ID, nil
}

var releaseCreateCommand = &command{
	name: "release create", synopsis: "DEFINITION [--artifact ALIAS=BUILD-NUMBER]... [--description TEXT] [--manual ENVIRONMENT]...",
	help: "create a release of a definition (sources left out reuse the latest release's build)",
	flags: func(fs *flag.FlagSet) {
		fs.Var(&stringList{}, "artifact", "ALIAS=BUILD-NUMBER of an artifact source (repeatable)")
		fs.String("description", "", "the release's description")
		fs.Var(&stringList{}, "manual", "an environment left to a person for this release (repeatable)")
	},
	run: func(c *cmd) error {
		if err := c.wantArgs(1, "DEFINITION"); err != nil {
			return err
		}
		var artifacts []map[string]any
		for _, a := range *flagList(c, "artifact") {
			alias, build, ok := strings.Cut(a, "=")
			if !ok || strings.TrimSpace(alias) == "" || strings.TrimSpace(build) == "" {
				return usagef("--artifact %q: want ALIAS=BUILD-NUMBER", a)
			}
			artifacts = append(artifacts, map[string]any{"alias": strings.TrimSpace(alias), "buildNumber": strings.TrimSpace(build)})
		}
		cl, err := c.client()
		if err != nil {
			return err
		}
		defID, err := c.definitionID(cl, c.args[0])
		if err != nil {
			return err
		}
		input := map[string]any{"definitionId": defID, "artifacts": artifacts}
		if d := flagString(c, "description"); d != "" {
			input["description"] = d
		}
		if m := *flagList(c, "manual"); len(m) > 0 {
			input["manualEnvironments"] = []string(m)
		}
		var res struct {
			CreateRelease release `json:"createRelease"`
		}
		if err := c.call(cl, `mutation($i: NewReleaseInput!) { createRelease(input: $i) { `+releaseFields+` } }`,
			map[string]any{"i": input}, &res); err != nil {
			return err
		}
		r := res.CreateRelease
		if c.g.output == "json" {
			return c.printJSON(r)
		}
		fmt.Fprintf(c.stdout, "Created %s (id %s): %s\n", r.Name, r.ID, envSummary(r.Environments))
		return nil
	},
}

type deployment struct {
	ID              string `json:"id"`
	Attempt         int    `json:"attempt"`
	Operation       string `json:"operation"`
	Status          string `json:"status"`
	EnvironmentName string `json:"environmentName"`
	Release         struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"release"`
}

var deployCommand = &command{
	name: "deploy", synopsis: "RELEASE-ID ENVIRONMENT [--comment TEXT]",
	help:  "deploy a release to an environment (manual, redeploy or rollback)",
	flags: func(fs *flag.FlagSet) { fs.String("comment", "", "why (kept in the audit trail)") },
	run: func(c *cmd) error {
		cl, err := c.open(2, "RELEASE-ID ENVIRONMENT")
		if err != nil {
			return err
		}
		var res struct {
			DeployEnvironment deployment `json:"deployEnvironment"`
		}
		if err := c.call(cl, `mutation($i: DeployEnvironmentInput!) { deployEnvironment(input: $i) {
		    id attempt operation status environmentName release { id name } } }`,
			map[string]any{"i": map[string]any{"releaseId": c.args[0], "environment": c.args[1], "comment": flagString(c, "comment")}}, &res); err != nil {
			return err
		}
		d := res.DeployEnvironment
		if c.g.output == "json" {
			return c.printJSON(d)
		}
		fmt.Fprintf(c.stdout, "Deployment %s: %s of %s to %s, %s (cairn logs -f %s)\n", d.ID, d.Operation, d.Release.Name, d.EnvironmentName, d.Status, d.ID)
		return nil
	},
}

var approvalsListCommand = &command{
	name: "approvals list", help: "the approvals you can decide now",
	run: func(c *cmd) error {
		cl, err := c.open(0, "no arguments")
		if err != nil {
			return err
		}
		type pending struct {
			ID         string  `json:"id"`
			Stage      string  `json:"stage"`
			Approver   string  `json:"approver"`
			DueAt      *string `json:"dueAt"`
			Deployment struct {
				ID              string `json:"id"`
				EnvironmentName string `json:"environmentName"`
				Release         struct {
					ID         string `json:"id"`
					Name       string `json:"name"`
					Definition struct {
						Name string `json:"name"`
					} `json:"definition"`
				} `json:"release"`
			} `json:"deployment"`
		}
		var res struct {
			PendingApprovals []pending `json:"pendingApprovals"`
		}
		if err := c.call(cl, `{ pendingApprovals { id stage approver dueAt deployment { id environmentName release { id name definition { name } } } } }`, nil, &res); err != nil {
			return err
		}
		if c.g.output == "json" {
			return c.printJSON(res.PendingApprovals)
		}
		rows := [][]string{{"ID", "STAGE", "DEFINITION", "RELEASE", "ENVIRONMENT", "APPROVER", "DUE"}}
		for _, a := range res.PendingApprovals {
			due := ""
			if a.DueAt != nil {
				due = shortTime(*a.DueAt)
			}
			rows = append(rows, []string{a.ID, a.Stage, a.Deployment.Release.Definition.Name, a.Deployment.Release.Name,
				a.Deployment.EnvironmentName, a.Approver, due})
		}
		c.table(rows)
		return nil
	},
}

// decide is approve and reject.
func decide(mutation string) func(c *cmd) error {
	return func(c *cmd) error {
		if err := c.wantArgs(1, "APPROVAL-ID"); err != nil {
			return err
		}
		input := map[string]any{"approvalId": c.args[0], "comment": flagString(c, "comment")}
		if mutation == "approve" {
			if d := flagString(c, "defer-until"); d != "" {
				t, err := time.Parse(time.RFC3339, d)
				if err != nil {
					return usagef("--defer-until %q: want a time like 2026-01-02T15:04:05Z", d)
				}
				input["deferUntil"] = t.Format(time.RFC3339)
			}
		}
		cl, err := c.client()
		if err != nil {
			return err
		}
		var res map[string]struct {
			ID            string  `json:"id"`
			Status        string  `json:"status"`
			Comment       string  `json:"comment"`
			DecidedBy     *string `json:"decidedBy"`
			DeferredUntil *string `json:"deferredUntil"`
		}
		if err := c.call(cl, `mutation($i: ApprovalDecisionInput!) { `+mutation+`(input: $i) { id status comment decidedBy deferredUntil } }`,
			map[string]any{"i": input}, &res); err != nil {
			return err
		}
		a := res[mutation]
		if c.g.output == "json" {
			return c.printJSON(a)
		}
		fmt.Fprintf(c.stdout, "Approval %s: %s\n", a.ID, a.Status)
		return nil
	}
}

var approveCommand = &command{
	name: "approve", synopsis: "APPROVAL-ID [--comment TEXT] [--defer-until TIME]", help: "approve a pending approval",
	flags: func(fs *flag.FlagSet) {
		fs.String("comment", "", "a comment for the audit trail and the requester")
		fs.String("defer-until", "", "pre-deployment only: hold the deployment until this RFC 3339 time")
	},
	run: decide("approve"),
}

var rejectCommand = &command{
	name: "reject", synopsis: "APPROVAL-ID [--comment TEXT]", help: "reject a pending approval (the deployment ends REJECTED)",
	flags: func(fs *flag.FlagSet) { fs.String("comment", "", "why") },
	run:   decide("reject"),
}

var interventionsListCommand = &command{
	name: "interventions list", help: "the manual interventions you can resume or reject now",
	run: func(c *cmd) error {
		cl, err := c.open(0, "no arguments")
		if err != nil {
			return err
		}
		type pending struct {
			ID           string `json:"id"`
			TaskName     string `json:"taskName"`
			Instructions string `json:"instructions"`
			TimeoutAt    string `json:"timeoutAt"`
			OnTimeout    string `json:"onTimeout"`
			Deployment   struct {
				ID              string `json:"id"`
				EnvironmentName string `json:"environmentName"`
				Release         struct {
					ID         string `json:"id"`
					Name       string `json:"name"`
					Definition struct {
						Name string `json:"name"`
					} `json:"definition"`
				} `json:"release"`
			} `json:"deployment"`
		}
		var res struct {
			Pending []pending `json:"pendingManualInterventions"`
		}
		if err := c.call(cl, `{ pendingManualInterventions { id taskName instructions timeoutAt onTimeout
		    deployment { id environmentName release { id name definition { name } } } } }`, nil, &res); err != nil {
			return err
		}
		if c.g.output == "json" {
			return c.printJSON(res.Pending)
		}
		rows := [][]string{{"ID", "DEFINITION", "RELEASE", "ENVIRONMENT", "TASK", "UNTIL", "THEN", "INSTRUCTIONS"}}
		for _, m := range res.Pending {
			rows = append(rows, []string{m.ID, m.Deployment.Release.Definition.Name, m.Deployment.Release.Name,
				m.Deployment.EnvironmentName, m.TaskName, shortTime(m.TimeoutAt), strings.ToLower(m.OnTimeout), oneLine(m.Instructions, 60)})
		}
		c.table(rows)
		return nil
	},
}

// oneLine is s on one line, at most n runes.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// act is resume and stop (reject) of a manual intervention.
func act(mutation string) func(c *cmd) error {
	return func(c *cmd) error {
		cl, err := c.open(1, "INTERVENTION-ID")
		if err != nil {
			return err
		}
		var res map[string]struct {
			ID        string  `json:"id"`
			TaskName  string  `json:"taskName"`
			Status    string  `json:"status"`
			Comment   string  `json:"comment"`
			DecidedBy *string `json:"decidedBy"`
		}
		if err := c.call(cl, `mutation($id: ID!, $c: String) { `+mutation+`(id: $id, comment: $c) { id taskName status comment decidedBy } }`,
			map[string]any{"id": c.args[0], "c": flagString(c, "comment")}, &res); err != nil {
			return err
		}
		m := res[mutation]
		if c.g.output == "json" {
			return c.printJSON(m)
		}
		fmt.Fprintf(c.stdout, "Manual intervention %s (%s): %s\n", m.ID, m.TaskName, m.Status)
		return nil
	}
}

var resumeCommand = &command{
	name: "resume", synopsis: "INTERVENTION-ID [--comment TEXT]", help: "resume a manual intervention (the deployment goes on)",
	flags: func(fs *flag.FlagSet) { fs.String("comment", "", "a comment for the audit trail") },
	run:   act("resumeManualIntervention"),
}

var stopCommand = &command{
	name: "stop", synopsis: "INTERVENTION-ID [--comment TEXT]", help: "reject a manual intervention (the deployment ends REJECTED)",
	flags: func(fs *flag.FlagSet) { fs.String("comment", "", "why") },
	run:   act("rejectManualIntervention"),
}

type logLine struct {
	Seq  int64  `json:"seq"`
	Step int    `json:"step"`
	Time string `json:"time"`
	Text string `json:"text"`
	// Target names the deployment-group target of a followed line (-f), as "[NAME] " in text.
	Target string `json:"target,omitempty"`
}

var logsCommand = &command{
	name: "logs", synopsis: "DEPLOYMENT-ID [-f] [--from SEQ]",
	help: "a deployment's log; -f follows it live until the job ends",
	flags: func(fs *flag.FlagSet) {
		fs.Bool("f", false, "follow: stream new lines until the deployment's job ends, with its deployment-group targets' lines as \"[NAME] line\"")
		fs.Int64("from", 1, "first sequence number")
	},
	run: func(c *cmd) error {
		if err := c.wantArgs(1, "DEPLOYMENT-ID"); err != nil {
			return err
		}
		from := flagInt64(c, "from")
		if from < 1 {
			return usagef("--from %d: want 1 or more", from)
		}
		cl, err := c.client()
		if err != nil {
			return err
		}
		print := func(l logLine) error {
			if c.g.output == "json" {
				b, _ := json.Marshal(l) // one object per line, for jq and scripts
				_, err := fmt.Fprintf(c.stdout, "%s\n", b)
				return err
			}
			if l.Target != "" {
				_, err := fmt.Fprintf(c.stdout, "[%s] %s\n", l.Target, l.Text)
				return err
			}
			_, err := fmt.Fprintln(c.stdout, l.Text)
			return err
		}
		if flagBool(c, "f") {
			// Batches of lines, a message each: a message per line cost the server (and this
			// client) most of the CPU of following a fast log.
			return cl.subscribe(c.ctx, `subscription($d: ID!, $f: Int64) { deploymentLogBatches(deploymentId: $d, fromSeq: $f, targets: true) { fromSeq texts steps times target } }`,
				map[string]any{"d": c.args[0], "f": from}, "deploymentLogBatches", func(raw json.RawMessage) error {
					var b struct {
						FromSeq int64    `json:"fromSeq"`
						Texts   []string `json:"texts"`
						Steps   []int    `json:"steps"`
						Times   []string `json:"times"`
						Target  string   `json:"target"`
					}
					if err := json.Unmarshal(raw, &b); err != nil {
						return fmt.Errorf("decoding a log batch: %w", err)
					}
					if len(b.Steps) != len(b.Texts) || len(b.Times) != len(b.Texts) {
						return fmt.Errorf("decoding a log batch: %d texts, %d steps, %d times", len(b.Texts), len(b.Steps), len(b.Times))
					}
					for i, text := range b.Texts {
						if err := print(logLine{Seq: b.FromSeq + int64(i), Step: b.Steps[i], Time: b.Times[i], Text: text, Target: b.Target}); err != nil {
							return err
						}
					}
					return nil
				})
		}
		var dep struct {
			Node *struct {
				ID  string `json:"id"`
				Job *struct {
					ID string `json:"id"`
				} `json:"job"`
			} `json:"node"`
		}
		if err := c.call(cl, `query($d: ID!) { node(id: $d) { ... on Deployment { id job { id } } } }`, map[string]any{"d": c.args[0]}, &dep); err != nil {
			return err
		}
		if dep.Node == nil || dep.Node.ID == "" { // nothing, or something that is not a deployment
			return fmt.Errorf("no deployment %s", c.args[0])
		}
		if dep.Node.Job == nil {
			return nil // not queued yet: no log
		}
		const page = 5000
		for {
			var res struct {
				JobLogs []logLine `json:"jobLogs"`
			}
			if err := c.call(cl, `query($j: ID!, $f: Int64, $n: Int) { jobLogs(jobId: $j, fromSeq: $f, limit: $n) { seq step time text } }`,
				map[string]any{"j": dep.Node.Job.ID, "f": from, "n": page}, &res); err != nil {
				return err
			}
			for _, l := range res.JobLogs {
				if err := print(l); err != nil {
					return err
				}
				from = l.Seq + 1
			}
			if len(res.JobLogs) < page {
				return nil
			}
		}
	},
}

var statusCommand = &command{
	name: "status", synopsis: "DEFINITION [--releases N]",
	help:  "a definition's environment matrix: recent releases × environments (* marks what runs)",
	flags: func(fs *flag.FlagSet) { fs.Int("releases", 10, "how many recent releases (at most 100)") },
	run: func(c *cmd) error {
		if err := c.wantArgs(1, "DEFINITION"); err != nil {
			return err
		}
		n := flagInt(c, "releases")
		if n < 1 || n > 100 {
			return usagef("--releases %d: want 1 to 100", n)
		}
		cl, err := c.client()
		if err != nil {
			return err
		}
		defID, err := c.definitionID(cl, c.args[0])
		if err != nil {
			return err
		}
		type state struct {
			Environment string `json:"environment"`
			Current     *struct {
				ID   string `json:"id"`
				Name string `json:"name"`
			} `json:"current"`
			Latest *struct {
				ID      string `json:"id"`
				Status  string `json:"status"`
				Release struct {
					ID   string `json:"id"`
					Name string `json:"name"`
				} `json:"release"`
			} `json:"latest"`
		}
		var res struct {
			CurrentDeployments []state `json:"currentDeployments"`
			Releases           struct {
				Edges []struct {
					Node release `json:"node"`
				} `json:"edges"`
			} `json:"releases"`
		}
		if err := c.call(cl, `query($d: ID!, $n: Int) {
		    currentDeployments(definitionId: $d) { environment current { id name } latest { id status release { id name } } }
		    releases(first: $n, where: {definitionID: $d}, orderBy: {field: NUMBER, direction: DESC}) { edges { node { `+releaseFields+` } } } }`,
			map[string]any{"d": defID, "n": n}, &res); err != nil {
			return err
		}
		releases := make([]release, 0, len(res.Releases.Edges))
		for _, e := range res.Releases.Edges {
			releases = append(releases, e.Node)
		}
		if c.g.output == "json" {
			return c.printJSON(map[string]any{"definition": c.args[0], "environments": res.CurrentDeployments, "releases": releases})
		}
		current := map[string]string{} // environment → release id running there
		envs := make([]string, 0, len(res.CurrentDeployments))
		for _, s := range res.CurrentDeployments {
			envs = append(envs, s.Environment)
			if s.Current != nil {
				current[s.Environment] = s.Current.ID
			}
		}
		header := append([]string{"RELEASE"}, envs...)
		rows := [][]string{header}
		for _, r := range releases {
			byEnv := map[string]string{}
			for _, e := range r.Environments {
				byEnv[e.Name] = e.Status
			}
			row := []string{r.Name}
			for _, env := range envs {
				cell := byEnv[env]
				if cell == "" {
					cell = "-"
				}
				if current[env] == r.ID {
					cell += "*"
				}
				row = append(row, cell)
			}
			rows = append(rows, row)
		}
		c.table(rows)
		return nil
	},
}

var agentsListCommand = &command{
	name: "agents list", help: "the registered agents",
	run: func(c *cmd) error {
		cl, err := c.open(0, "no arguments")
		if err != nil {
			return err
		}
		type agent struct {
			ID         string  `json:"id"`
			Name       string  `json:"name"`
			Version    string  `json:"version"`
			Enabled    bool    `json:"enabled"`
			Online     bool    `json:"online"`
			LastSeenAt *string `json:"lastSeenAt"`
			MaxJobs    int     `json:"maxJobs"`
			Pool       *struct {
				Name string `json:"name"`
			} `json:"pool"`
			DeploymentGroup *struct {
				Name string `json:"name"`
			} `json:"deploymentGroup"`
			Tags           []string `json:"tags"`
			LastDeployment *struct {
				ID     string `json:"id"`
				Status string `json:"status"`
			} `json:"lastDeployment"`
			Capabilities map[string]any `json:"capabilities"`
		}
		var list []agent
		var after any
		for { // every page: an installation has tens of agents, maybe hundreds
			var res struct {
				Agents struct {
					Edges []struct {
						Node agent `json:"node"`
					} `json:"edges"`
					PageInfo struct {
						HasNextPage bool   `json:"hasNextPage"`
						EndCursor   string `json:"endCursor"`
					} `json:"pageInfo"`
				} `json:"agents"`
			}
			if err := c.call(cl, `query($a: Cursor) { agents(first: 100, after: $a) { edges { node {
			    id name version enabled online lastSeenAt maxJobs pool { name } deploymentGroup { name } tags
			    lastDeployment { id status } capabilities } } pageInfo { hasNextPage endCursor } } }`,
				map[string]any{"a": after}, &res); err != nil {
				return err
			}
			for _, e := range res.Agents.Edges {
				list = append(list, e.Node)
			}
			if !res.Agents.PageInfo.HasNextPage {
				break
			}
			after = res.Agents.PageInfo.EndCursor
		}
		if c.g.output == "json" {
			return c.printJSON(list)
		}
		rows := [][]string{{"ID", "NAME", "STATE", "VERSION", "POOL / GROUP", "TAGS", "LAST DEPLOYMENT", "MAX JOBS", "LAST SEEN", "CAPABILITIES"}}
		for _, a := range list {
			state := "offline"
			switch {
			case !a.Enabled:
				state = "disabled"
			case a.Online:
				state = "online"
			}
			pool, seen := "", ""
			if a.Pool != nil {
				pool = a.Pool.Name
			}
			if a.DeploymentGroup != nil {
				pool = "group " + a.DeploymentGroup.Name
			}
			last := ""
			if a.LastDeployment != nil {
				last = a.LastDeployment.ID + " " + a.LastDeployment.Status
			}
			if a.LastSeenAt != nil {
				seen = shortTime(*a.LastSeenAt)
			}
			caps := make([]string, 0, len(a.Capabilities))
			for _, k := range sortedKeys(a.Capabilities) {
				caps = append(caps, fmt.Sprintf("%s=%v", k, a.Capabilities[k]))
			}
			rows = append(rows, []string{a.ID, a.Name, state, a.Version, pool, strings.Join(a.Tags, ","), last,
				strconv.Itoa(a.MaxJobs), seen, strings.Join(caps, " ")})
		}
		c.table(rows)
		return nil
	},
}

var webhooksRedeliverCommand = &command{
	name: "webhooks redeliver", synopsis: "DELIVERY-ID",
	help: "process a webhook delivery's body again under the current definitions (ADMIN)",
	run: func(c *cmd) error {
		cl, err := c.open(1, "DELIVERY-ID")
		if err != nil {
			return err
		}
		var res struct {
			Redeliver struct {
				ID           string `json:"id"`
				Result       string `json:"result"`
				Reason       string `json:"reason"`
				RedeliveryOf struct {
					ID string `json:"id"`
				} `json:"redeliveryOf"`
				Releases []struct {
					ID   string `json:"id"`
					Name string `json:"name"`
				} `json:"releases"`
			} `json:"redeliverWebhookDelivery"`
		}
		if err := c.call(cl, `mutation($id: ID!) { redeliverWebhookDelivery(id: $id) { id result reason redeliveryOf { id } releases { id name } } }`,
			map[string]any{"id": c.args[0]}, &res); err != nil {
			return err
		}
		d := res.Redeliver
		if c.g.output == "json" {
			return c.printJSON(d)
		}
		fmt.Fprintf(c.stdout, "Delivery %s (redelivery of %s): %s: %s\n", d.ID, d.RedeliveryOf.ID, d.Result, d.Reason)
		for _, r := range d.Releases {
			fmt.Fprintf(c.stdout, "  release %s %s\n", r.ID, r.Name)
		}
		return nil
	},
}

// shortTime shows an RFC 3339 time as "2006-01-02 15:04" in local time.
func shortTime(s string) string {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return s
	}
	return t.Local().Format("2006-01-02 15:04")
}
