package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
)

// The library: variable groups and secure files (docs/reference/definitions.md, "Library:
// variable groups and secure files").

type groupVariable struct {
	Name                  string  `json:"name"`
	Value                 *string `json:"value"`
	Secret                bool    `json:"secret"`
	SettableAtReleaseTime bool    `json:"settableAtReleaseTime"`
}

type approver struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
}

type libraryPermissions struct {
	Use        []approver `json:"use"`
	Administer []approver `json:"administer"`
	Read       []approver `json:"read"`
}

type variableGroup struct {
	ID          string             `json:"id"`
	Name        string             `json:"name"`
	Description string             `json:"description"`
	Revision    int                `json:"revision"`
	Variables   []groupVariable    `json:"variables"`
	Permissions libraryPermissions `json:"permissions"`
}

const groupFields = `id name description revision variables { name value secret settableAtReleaseTime }
	permissions { use { kind name } administer { kind name } read { kind name } }`

// findGroup returns the group named name, or nil.
func (c *cmd) findGroup(cl *client, name string) (*variableGroup, error) {
	var res struct {
		VariableGroups []variableGroup `json:"variableGroups"`
	}
	if err := c.call(cl, `{ variableGroups { `+groupFields+` } }`, nil, &res); err != nil {
		return nil, err
	}
	for i := range res.VariableGroups {
		if res.VariableGroups[i].Name == name {
			return &res.VariableGroups[i], nil
		}
	}
	return nil, nil
}

func showValue(v groupVariable) string {
	switch {
	case v.Secret:
		return "***"
	case v.Value == nil:
		return "(hidden)"
	}
	return *v.Value
}

var groupsListCommand = &command{
	name: "groups list", help: "the variable groups of the library",
	run: func(c *cmd) error {
		cl, err := c.open(0, "no arguments")
		if err != nil {
			return err
		}
		var res struct {
			VariableGroups []variableGroup `json:"variableGroups"`
		}
		if err := c.call(cl, `{ variableGroups { `+groupFields+` } }`, nil, &res); err != nil {
			return err
		}
		if c.g.output == "json" {
			return c.printJSON(res.VariableGroups)
		}
		rows := [][]string{{"ID", "NAME", "REVISION", "VARIABLES", "DESCRIPTION"}}
		for _, g := range res.VariableGroups {
			rows = append(rows, []string{g.ID, g.Name, strconv.Itoa(g.Revision), strconv.Itoa(len(g.Variables)), oneLine(g.Description, 60)})
		}
		c.table(rows)
		return nil
	},
}

var groupsShowCommand = &command{
	name: "groups show", synopsis: "GROUP",
	help: "a variable group's variables (secrets as ***, values you may not read as (hidden))",
	run: func(c *cmd) error {
		cl, err := c.open(1, "GROUP")
		if err != nil {
			return err
		}
		g, err := c.findGroup(cl, c.args[0])
		if err != nil {
			return err
		}
		if g == nil {
			return fmt.Errorf("no variable group %q", c.args[0])
		}
		if c.g.output == "json" {
			return c.printJSON(g)
		}
		fmt.Fprintf(c.stdout, "%s (revision %d) %s\n", g.Name, g.Revision, g.Description)
		rows := [][]string{{"NAME", "VALUE", "SECRET", "SETTABLE AT RELEASE"}}
		for _, v := range g.Variables {
			rows = append(rows, []string{v.Name, showValue(v), strconv.FormatBool(v.Secret), strconv.FormatBool(v.SettableAtReleaseTime)})
		}
		c.table(rows)
		return nil
	},
}

// groupInput is the document of g for updateVariableGroup: secrets without a value (kept).
func groupInput(g *variableGroup) map[string]any {
	vars := make([]map[string]any, 0, len(g.Variables))
	for _, v := range g.Variables {
		m := map[string]any{"name": v.Name, "secret": v.Secret, "settableAtReleaseTime": v.SettableAtReleaseTime}
		if v.Value != nil && !v.Secret {
			m["value"] = *v.Value
		}
		vars = append(vars, m)
	}
	return map[string]any{"name": g.Name, "description": g.Description, "variables": vars, "permissions": g.Permissions}
}

// saveGroup writes g's document (a new group when g.ID is empty).
func (c *cmd) saveGroup(cl *client, g *variableGroup, input map[string]any) error {
	comment := flagString(c, "comment")
	if g.ID == "" {
		return c.call(cl, `mutation($in: VariableGroupInput!, $c: String) { createVariableGroup(input: $in, comment: $c) { id } }`,
			map[string]any{"in": input, "c": comment}, nil)
	}
	return c.call(cl, `mutation($id: ID!, $rev: Int!, $in: VariableGroupInput!, $c: String) {
		updateVariableGroup(id: $id, expectedRevision: $rev, input: $in, comment: $c) { id } }`,
		map[string]any{"id": g.ID, "rev": g.Revision, "in": input, "c": comment}, nil)
}

var groupsSetCommand = &command{
	name: "groups set", synopsis: "GROUP NAME=VALUE | NAME - [--secret] [--settable] [--comment TEXT]",
	help: "set one variable of a group (created if missing); NAME - reads the value from stdin",
	flags: func(fs *flag.FlagSet) {
		fs.Bool("secret", false, "the variable is secret (sealed, never shown)")
		fs.Bool("settable", false, "a release may override it")
		fs.String("comment", "", "why (kept in the group's revision)")
	},
	run: func(c *cmd) error {
		var name, value string
		switch {
		case len(c.args) == 2 && strings.Contains(c.args[1], "="):
			name, value, _ = strings.Cut(c.args[1], "=")
		case len(c.args) == 3 && c.args[2] == "-":
			name = c.args[1]
			line, err := bufio.NewReader(c.stdin).ReadString('\n')
			if err != nil && line == "" {
				return errors.New("no value on stdin")
			}
			value = strings.TrimRight(line, "\r\n")
		default:
			return usagef("want GROUP NAME=VALUE or GROUP NAME - (value on stdin)")
		}
		cl, err := c.client()
		if err != nil {
			return err
		}
		g, err := c.findGroup(cl, c.args[0])
		if err != nil {
			return err
		}
		if g == nil {
			g = &variableGroup{Name: c.args[0]}
		}
		in := groupInput(g)
		vars := in["variables"].([]map[string]any)
		v := map[string]any{"name": name, "value": value, "secret": flagBool(c, "secret"), "settableAtReleaseTime": flagBool(c, "settable")}
		replaced := false
		for i, old := range vars {
			if strings.EqualFold(old["name"].(string), name) {
				vars[i], replaced = v, true
			}
		}
		if !replaced {
			vars = append(vars, v)
		}
		in["variables"] = vars
		if err := c.saveGroup(cl, g, in); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "%s: %s set\n", g.Name, name)
		return nil
	},
}

var groupsUnsetCommand = &command{
	name: "groups unset", synopsis: "GROUP NAME [--comment TEXT]",
	help:  "remove one variable of a group",
	flags: func(fs *flag.FlagSet) { fs.String("comment", "", "why (kept in the group's revision)") },
	run: func(c *cmd) error {
		cl, err := c.open(2, "GROUP NAME")
		if err != nil {
			return err
		}
		g, err := c.findGroup(cl, c.args[0])
		if err != nil {
			return err
		}
		if g == nil {
			return fmt.Errorf("no variable group %q", c.args[0])
		}
		in := groupInput(g)
		var kept []map[string]any
		for _, v := range in["variables"].([]map[string]any) {
			if !strings.EqualFold(v["name"].(string), c.args[1]) {
				kept = append(kept, v)
			}
		}
		in["variables"] = kept
		return c.saveGroup(cl, g, in)
	},
}

var groupsDeleteCommand = &command{
	name: "groups delete", synopsis: "GROUP [--comment TEXT]",
	help:  "delete a variable group (refused while definitions link it)",
	flags: func(fs *flag.FlagSet) { fs.String("comment", "", "why") },
	run: func(c *cmd) error {
		cl, err := c.open(1, "GROUP")
		if err != nil {
			return err
		}
		g, err := c.findGroup(cl, c.args[0])
		if err != nil {
			return err
		}
		if g == nil {
			return fmt.Errorf("no variable group %q", c.args[0])
		}
		return c.call(cl, `mutation($id: ID!, $c: String) { deleteVariableGroup(id: $id, comment: $c) }`,
			map[string]any{"id": g.ID, "c": flagString(c, "comment")}, nil)
	},
}

type secureFile struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	Size        int64  `json:"size"`
	Sha256      string `json:"sha256"`
}

func (c *cmd) secureFiles(cl *client) ([]secureFile, error) {
	var res struct {
		SecureFiles []secureFile `json:"secureFiles"`
	}
	err := c.call(cl, `{ secureFiles { id name description size sha256 } }`, nil, &res)
	return res.SecureFiles, err
}

var filesListCommand = &command{
	name: "files list", help: "the secure files of the library (never their contents)",
	run: func(c *cmd) error {
		cl, err := c.open(0, "no arguments")
		if err != nil {
			return err
		}
		fs, err := c.secureFiles(cl)
		if err != nil {
			return err
		}
		if c.g.output == "json" {
			return c.printJSON(fs)
		}
		rows := [][]string{{"ID", "NAME", "SIZE", "SHA256", "DESCRIPTION"}}
		for _, f := range fs {
			rows = append(rows, []string{f.ID, f.Name, strconv.FormatInt(f.Size, 10), f.Sha256, oneLine(f.Description, 60)})
		}
		c.table(rows)
		return nil
	},
}

var filesUploadCommand = &command{
	name: "files upload", synopsis: "NAME FILE [--description TEXT] [--replace]",
	help: "upload a secure file (FILE - reads stdin); --replace rotates an existing one",
	flags: func(fs *flag.FlagSet) {
		fs.String("description", "", "what the file is")
		fs.Bool("replace", false, "replace the content of an existing file of that name")
	},
	run: func(c *cmd) error {
		cl, err := c.open(2, "NAME FILE")
		if err != nil {
			return err
		}
		var body io.Reader = c.stdin
		if c.args[1] != "-" {
			f, err := os.Open(c.args[1])
			if err != nil {
				return err
			}
			defer f.Close()
			body = f
		}
		q := url.Values{"name": {c.args[0]}}
		if d := flagString(c, "description"); d != "" {
			q.Set("description", d)
		}
		if flagBool(c, "replace") {
			q.Set("replace", "true")
		}
		ctx, cancel := context.WithTimeout(c.ctx, timeout)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, cl.server+"/api/securefiles?"+q.Encode(), body)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+cl.token)
		req.Header.Set("Content-Type", "application/octet-stream")
		resp, err := cl.http.Do(req)
		if err != nil {
			return fmt.Errorf("calling %s: %w", cl.server, err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if resp.StatusCode != http.StatusCreated {
			var e struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			if json.Unmarshal(raw, &e) == nil && e.Error.Message != "" {
				return fmt.Errorf("%s (%s)", e.Error.Message, e.Error.Code)
			}
			return fmt.Errorf("upload failed: HTTP %d: %.200s", resp.StatusCode, raw)
		}
		var f secureFile
		if err := json.Unmarshal(raw, &f); err != nil {
			return err
		}
		if c.g.output == "json" {
			return c.printJSON(f)
		}
		fmt.Fprintf(c.stdout, "%s uploaded (%d bytes, sha256 %s)\n", f.Name, f.Size, f.Sha256)
		return nil
	},
}

var filesDeleteCommand = &command{
	name: "files delete", synopsis: "NAME",
	help: "delete a secure file (refused while definitions' jobs name it)",
	run: func(c *cmd) error {
		cl, err := c.open(1, "NAME")
		if err != nil {
			return err
		}
		fs, err := c.secureFiles(cl)
		if err != nil {
			return err
		}
		for _, f := range fs {
			if f.Name == c.args[0] {
				return c.call(cl, `mutation($id: ID!) { deleteSecureFile(id: $id) }`, map[string]any{"id": f.ID}, nil)
			}
		}
		return fmt.Errorf("no secure file %q", c.args[0])
	},
}
