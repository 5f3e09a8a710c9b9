package main

import (
	"fmt"
	"strings"
)

// taskTemplate is a template as the CLI reads it.
type taskTemplate struct {
	Name        string   `json:"name"`
	Version     string   `json:"version"`
	Description string   `json:"description"`
	Category    string   `json:"category"`
	Builtin     bool     `json:"builtin"`
	Demands     []string `json:"demands"`
	Docs        string   `json:"docs,omitempty"`
	Inputs      []struct {
		Name     string   `json:"name"`
		Type     string   `json:"type"`
		Required bool     `json:"required"`
		Default  string   `json:"default"`
		Options  []string `json:"options"`
		Help     string   `json:"help"`
	} `json:"inputs,omitempty"`
}

var tasksListCommand = &command{
	name: "tasks list", help: "the task library: built-in and custom task templates and groups",
	run: func(c *cmd) error {
		cl, err := c.open(0, "no arguments")
		if err != nil {
			return err
		}
		var res struct {
			TaskTemplates []taskTemplate `json:"taskTemplates"`
		}
		if err := c.call(cl, `{ taskTemplates { name version description category builtin demands } }`, nil, &res); err != nil {
			return err
		}
		if c.g.output == "json" {
			return c.printJSON(res.TaskTemplates)
		}
		rows := [][]string{{"TASK", "VERSION", "KIND", "DESCRIPTION"}}
		for _, t := range res.TaskTemplates {
			kind := "custom"
			if t.Builtin {
				kind = "built-in"
			}
			major, _, _ := strings.Cut(t.Version, ".")
			rows = append(rows, []string{t.Name + "@" + major, t.Version, kind, oneLine(t.Description, 80)})
		}
		c.table(rows)
		return nil
	},
}

var tasksShowCommand = &command{
	name: "tasks show", synopsis: "NAME@MAJOR | NAME VERSION",
	help: "a task template's documentation: its inputs, their types and defaults",
	run: func(c *cmd) error {
		var name, version string
		switch len(c.args) {
		case 1:
			var ok bool
			if name, version, ok = strings.Cut(c.args[0], "@"); !ok {
				return usagef("give NAME@MAJOR (e.g. CopyFiles@2) or NAME VERSION")
			}
		case 2:
			name, version = c.args[0], c.args[1]
		default:
			return usagef("give NAME@MAJOR (e.g. CopyFiles@2) or NAME VERSION")
		}
		cl, err := c.client()
		if err != nil {
			return err
		}
		var res struct {
			TaskTemplate *taskTemplate `json:"taskTemplate"`
		}
		if err := c.call(cl, `query($n: String!, $v: String!) { taskTemplate(name: $n, version: $v) {
		    name version description category builtin demands docs inputs { name type required default options help } } }`,
			map[string]any{"n": name, "v": version}, &res); err != nil {
			return err
		}
		if res.TaskTemplate == nil {
			return fmt.Errorf("no task template %s version %s", name, version)
		}
		if c.g.output == "json" {
			return c.printJSON(res.TaskTemplate)
		}
		fmt.Fprint(c.stdout, res.TaskTemplate.Docs)
		return nil
	},
}
