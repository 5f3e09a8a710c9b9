package main

import (
	"strings"
)

// retentionPreview is the answer of retentionPreview.
type retentionPreview struct {
	DefinitionID string `json:"definitionId"`
	EvaluatedAt  string `json:"evaluatedAt"`
	Releases     []struct {
		ReleaseID    string   `json:"releaseId"`
		Name         string   `json:"name"`
		Verdict      string   `json:"verdict"`
		DueAt        *string  `json:"dueAt"`
		Reasons      []string `json:"reasons"`
		LogsPrunedAt *string  `json:"logsPrunedAt"`
	} `json:"releases"`
}

var retentionPreviewCommand = &command{
	name: "retention preview", synopsis: "DEFINITION",
	help: "each release of a definition (name or id): kept or due for deletion, and why",
	run: func(c *cmd) error {
		cl, err := c.open(1, "DEFINITION")
		if err != nil {
			return err
		}
		defID := c.args[0]
		if strings.TrimLeft(defID, "0123456789") != "" || defID == "" {
			if defID, err = c.definitionID(cl, c.args[0]); err != nil {
				return err
			}
		}
		var res struct {
			RetentionPreview retentionPreview `json:"retentionPreview"`
		}
		if err := c.call(cl, `query($d: ID!) { retentionPreview(definitionId: $d) { definitionId evaluatedAt
		    releases { releaseId name verdict dueAt reasons logsPrunedAt } } }`, map[string]any{"d": defID}, &res); err != nil {
			return err
		}
		p := res.RetentionPreview
		if c.g.output == "json" {
			return c.printJSON(p)
		}
		rows := [][]string{{"RELEASE", "VERDICT", "DUE", "WHY"}}
		for _, r := range p.Releases {
			due := "-"
			if r.DueAt != nil {
				due = shortTime(*r.DueAt)
			}
			rows = append(rows, []string{r.Name, r.Verdict, due, strings.Join(r.Reasons, "; ")})
		}
		c.table(rows)
		return nil
	},
}
