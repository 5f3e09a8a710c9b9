package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
)

// The import of Azure DevOps classic release definitions (docs/import.md): from files, or
// read from an organization's REST API with a PAT; both send the documents to the server's
// importDefinitions mutation, which reports (and with --apply creates) them.

const importDefinitionsMutation = `mutation($docs: [String!]!, $dry: Boolean, $mapping: ImportMappingInput, $comment: String) {
  importDefinitions(format: AZURE_CLASSIC, documents: $docs, dryRun: $dry, mapping: $mapping, comment: $comment) {
    dryRun applied
    definitions {
      document sourceId sourceRevision sourceUrl name action valid existingDefinitionId input
      definition { id revision name }
      findings { path status message }
    }
  }
}`

type importFinding struct {
	Path    string `json:"path"`
	Status  string `json:"status"`
	Message string `json:"message"`
}

type importReport struct {
	Document             int     `json:"document"`
	SourceID             int     `json:"sourceId"`
	SourceRevision       int     `json:"sourceRevision"`
	SourceURL            string  `json:"sourceUrl"`
	Name                 string  `json:"name"`
	Action               string  `json:"action"`
	Valid                bool    `json:"valid"`
	ExistingDefinitionID *string `json:"existingDefinitionId"`
	Input                string  `json:"input"`
	Definition           *struct {
		ID       string `json:"id"`
		Revision int    `json:"revision"`
		Name     string `json:"name"`
	} `json:"definition"`
	Findings []importFinding `json:"findings"`
}

type importPayload struct {
	DryRun      bool           `json:"dryRun"`
	Applied     bool           `json:"applied"`
	Definitions []importReport `json:"definitions"`
}

var importAzureCommand = &command{
	name:     "definitions import azure",
	synopsis: "FILE... | --org URL --project P [--definition ID]... --token-file F  [--mapping FILE] [--apply] [--all] [--json]",
	help:     "import Azure DevOps classic release definitions: a report of what maps; --apply creates them",
	flags: func(fs *flag.FlagSet) {
		fs.String("org", "", "Azure DevOps organization or collection URL (https://dev.azure.com/contoso, https://tfs.example.org/tfs/DefaultCollection)")
		fs.String("project", "", "Azure DevOps project (with --org)")
		fs.Var(&stringList{}, "definition", "a release definition id to import (with --org; repeatable; default: every definition of the project)")
		fs.String("token-file", "", "a file holding an Azure DevOps personal access token (Release: read; Task groups and Variable groups: read)")
		fs.String("api-version", "7.1", "the REST api-version (5.0 for Azure DevOps Server 2019)")
		fs.String("mapping", "", "a JSON file in the shape of ImportMappingInput: identities, serviceConnections, variableGroups, taskGroups, secretValues, workItemQueries, agentPools, deploymentGroups")
		fs.Bool("apply", false, "create the definitions (all or none) instead of only reporting")
		fs.Bool("all", false, "list MAPPED findings too")
		fs.Bool("json", false, "print the report as JSON (the same as -o json)")
		fs.String("comment", "", "the revision comment of the created definitions")
	},
	run: func(c *cmd) error {
		if flagBool(c, "json") {
			c.g.output = "json"
		}
		org := flagString(c, "org")
		if (org == "") == (len(c.args) == 0) {
			return usagef("give FILE arguments or --org (with --project and --token-file), not both")
		}
		var docs []string
		var err error
		if org == "" {
			for _, name := range c.args {
				b, err := readFile(c, name)
				if err != nil {
					return err
				}
				docs = append(docs, string(b))
			}
		} else {
			if flagString(c, "project") == "" || flagString(c, "token-file") == "" {
				return usagef("--org needs --project and --token-file")
			}
			pat, err := os.ReadFile(flagString(c, "token-file"))
			if err != nil {
				return err
			}
			az := &azureClient{org: strings.TrimRight(org, "/"), project: flagString(c, "project"), pat: strings.TrimSpace(string(pat)),
				apiVersion: flagString(c, "api-version"), http: &httpClient, warn: c.stderr}
			ctx, cancel := context.WithTimeout(c.ctx, 5*timeout)
			defer cancel()
			if docs, err = az.documents(ctx, *flagList(c, "definition")); err != nil {
				return err
			}
		}
		vars := map[string]any{"docs": docs, "dry": !flagBool(c, "apply")}
		if f := flagString(c, "mapping"); f != "" {
			b, err := readFile(c, f)
			if err != nil {
				return err
			}
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				return fmt.Errorf("%s: not a JSON object: %w", f, err)
			}
			vars["mapping"] = m
		}
		if cm := flagString(c, "comment"); cm != "" {
			vars["comment"] = cm
		}
		cl, err := c.client()
		if err != nil {
			return err
		}
		var out struct {
			ImportDefinitions importPayload `json:"importDefinitions"`
		}
		if err := c.call(cl, importDefinitionsMutation, vars, &out); err != nil {
			size := 0
			for _, d := range docs {
				size += len(d)
			}
			if size > 1<<20 {
				fmt.Fprintf(c.stderr, "cairn: the %d documents are %d bytes together; the server's --max-body (1 MiB by default) may refuse them: import fewer at once\n", len(docs), size)
			}
			return err
		}
		p := out.ImportDefinitions
		if c.g.output == "json" {
			if err := c.printJSON(p); err != nil {
				return err
			}
		} else {
			c.printImport(p, flagBool(c, "all"))
		}
		if flagBool(c, "apply") && !p.Applied {
			return errors.New("nothing was imported: every definition must be valid (see the NEEDS_INPUT and INVALID findings)")
		}
		return nil
	},
}

// readFile reads a file, or stdin for "-".
func readFile(c *cmd, name string) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(io.LimitReader(c.stdin, 64<<20))
	}
	return os.ReadFile(name)
}

// printImport writes the report: one line per definition, then its findings.
func (c *cmd) printImport(p importPayload, all bool) {
	rows := [][]string{{"DOC", "AZURE ID", "NAME", "ACTION", "VALID", "CAIRN"}}
	for _, d := range p.Definitions {
		cairn := "-"
		if d.Definition != nil {
			cairn = fmt.Sprintf("%s (revision %d)", d.Definition.ID, d.Definition.Revision)
		} else if d.ExistingDefinitionID != nil {
			cairn = *d.ExistingDefinitionID
		}
		rows = append(rows, []string{strconv.Itoa(d.Document), strconv.Itoa(d.SourceID), d.Name, d.Action, strconv.FormatBool(d.Valid), cairn})
	}
	c.table(rows)
	for _, d := range p.Definitions {
		counts := map[string]int{}
		findings := [][]string{{"STATUS", "PATH", "MESSAGE"}}
		for _, f := range d.Findings {
			counts[f.Status]++
			if f.Status != "MAPPED" || all {
				findings = append(findings, []string{f.Status, f.Path, oneLine(f.Message, 200)})
			}
		}
		var sum []string
		for _, s := range sortedKeys(counts) {
			sum = append(sum, fmt.Sprintf("%d %s", counts[s], s))
		}
		fmt.Fprintf(c.stdout, "\n%s (Azure definition %d): %s\n", d.Name, d.SourceID, strings.Join(sum, ", "))
		if len(findings) > 1 {
			c.table(findings)
		}
	}
	switch {
	case p.Applied:
		fmt.Fprintf(c.stdout, "\nimported %d definition(s)\n", len(p.Definitions))
	case p.DryRun:
		fmt.Fprintln(c.stdout, "\ndry run: nothing was written; run again with --apply to import")
	default:
		fmt.Fprintln(c.stdout, "\nnothing was written: not every definition is valid")
	}
}

// azureClient reads release definitions (and the task and variable groups they use) from
// an Azure DevOps organization or server through its REST API, with a PAT.
type azureClient struct {
	org, project, pat, apiVersion string
	http                          *http.Client
	warn                          io.Writer
}

// maxAzureDefinitions bounds what one import reads from a project.
const maxAzureDefinitions = 200

// releaseBase is where the release API lives: Azure DevOps Services serves it from
// vsrm.dev.azure.com (and {org}.vsrm.visualstudio.com), a server from its own address.
func (a *azureClient) releaseBase() string {
	u, err := url.Parse(a.org)
	if err != nil {
		return a.org
	}
	switch {
	case strings.EqualFold(u.Host, "dev.azure.com"):
		u.Host = "vsrm.dev.azure.com"
	case strings.HasSuffix(strings.ToLower(u.Host), ".visualstudio.com") && !strings.Contains(strings.ToLower(u.Host), ".vsrm."):
		u.Host = strings.TrimSuffix(u.Host, ".visualstudio.com") + ".vsrm.visualstudio.com"
	}
	return strings.TrimRight(u.String(), "/")
}

// get reads one JSON answer; next is the continuation token of a list, if any.
func (a *azureClient) get(ctx context.Context, u string) (body []byte, next string, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, "", err
	}
	req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(":"+a.pat)))
	req.Header.Set("Accept", "application/json")
	resp, err := a.http.Do(req)
	if err != nil {
		return nil, "", fmt.Errorf("calling Azure DevOps: %w", err)
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, "", fmt.Errorf("reading %s: %w", u, err)
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden ||
		resp.StatusCode == http.StatusNonAuthoritativeInfo: // Azure DevOps answers 203 with a sign-in page to a bad PAT
		return nil, "", fmt.Errorf("Azure DevOps refused the token (HTTP %d) for %s: check the PAT and its scopes", resp.StatusCode, u)
	case resp.StatusCode != http.StatusOK:
		return nil, "", fmt.Errorf("Azure DevOps answered HTTP %d for %s: %.300s", resp.StatusCode, u, body)
	}
	if !json.Valid(body) {
		return nil, "", fmt.Errorf("Azure DevOps answered %s with something that is not JSON: %.200s", u, body)
	}
	return body, resp.Header.Get("x-ms-continuationtoken"), nil
}

// documents returns the definitions to import (ids, or every one of the project) as the
// REST API returns them, then the exports of the task groups and variable groups they use.
func (a *azureClient) documents(ctx context.Context, ids []string) ([]string, error) {
	project := url.PathEscape(a.project)
	relBase := a.releaseBase() + "/" + project + "/_apis/release/definitions"
	if len(ids) == 0 {
		token := ""
		for {
			q := url.Values{"api-version": {a.apiVersion}, "queryOrder": {"idAscending"}}
			if token != "" {
				q.Set("continuationToken", token)
			}
			body, next, err := a.get(ctx, relBase+"?"+q.Encode())
			if err != nil {
				return nil, err
			}
			var list struct {
				Value []struct {
					ID int `json:"id"`
				} `json:"value"`
			}
			if err := json.Unmarshal(body, &list); err != nil {
				return nil, fmt.Errorf("reading the list of release definitions: %w", err)
			}
			for _, d := range list.Value {
				ids = append(ids, strconv.Itoa(d.ID))
			}
			if len(ids) > maxAzureDefinitions {
				return nil, fmt.Errorf("the project has more than %d release definitions: import them a few at a time with --definition", maxAzureDefinitions)
			}
			if next == "" || next == token || len(list.Value) == 0 {
				break
			}
			token = next
		}
		if len(ids) == 0 {
			return nil, fmt.Errorf("project %s has no release definitions", a.project)
		}
	}
	var docs []string
	taskGroups, varGroups := map[string]bool{}, map[int]bool{}
	for _, id := range ids {
		if _, err := strconv.Atoi(id); err != nil {
			return nil, usagef("--definition %q is not a definition id", id)
		}
		body, _, err := a.get(ctx, relBase+"/"+id+"?"+url.Values{"api-version": {a.apiVersion}}.Encode())
		if err != nil {
			return nil, err
		}
		docs = append(docs, string(body))
		collectGroups(body, taskGroups, varGroups)
	}
	base := a.org + "/" + project + "/_apis/distributedtask"
	for _, id := range sortedKeys(taskGroups) {
		body, _, err := a.get(ctx, base+"/taskgroups/"+url.PathEscape(id)+"?"+url.Values{"api-version": {a.apiVersion}}.Encode())
		if err != nil {
			fmt.Fprintf(a.warn, "cairn: task group %s not read (%v); the report names it NEEDS_INPUT\n", id, err)
			continue
		}
		docs = append(docs, string(body))
	}
	if len(varGroups) > 0 {
		var list []string
		for id := range varGroups {
			list = append(list, strconv.Itoa(id))
		}
		sort.Strings(list)
		body, _, err := a.get(ctx, base+"/variablegroups?"+url.Values{"groupIds": {strings.Join(list, ",")}, "api-version": {a.apiVersion}}.Encode())
		if err != nil {
			fmt.Fprintf(a.warn, "cairn: variable groups %s not read (%v); map them with --mapping\n", strings.Join(list, ","), err)
		} else {
			docs = append(docs, string(body))
		}
	}
	return docs, nil
}

// collectGroups notes the task groups (metaTask tasks) and variable groups a definition uses.
func collectGroups(def []byte, taskGroups map[string]bool, varGroups map[int]bool) {
	var d struct {
		VariableGroups []int `json:"variableGroups"`
		Environments   []struct {
			VariableGroups []int `json:"variableGroups"`
			DeployPhases   []struct {
				WorkflowTasks []struct {
					TaskID         string `json:"taskId"`
					DefinitionType string `json:"definitionType"`
				} `json:"workflowTasks"`
			} `json:"deployPhases"`
		} `json:"environments"`
	}
	if json.Unmarshal(def, &d) != nil {
		return // the server reports what is wrong with the document
	}
	for _, id := range d.VariableGroups {
		varGroups[id] = true
	}
	for _, e := range d.Environments {
		for _, id := range e.VariableGroups {
			varGroups[id] = true
		}
		for _, p := range e.DeployPhases {
			for _, t := range p.WorkflowTasks {
				if strings.EqualFold(t.DefinitionType, "metaTask") && t.TaskID != "" {
					taskGroups[strings.ToLower(t.TaskID)] = true
				}
			}
		}
	}
}
