package azureclassic

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/cairnhq/cairn/ent/schema/spec"
)

// mapper holds one import's inputs and collects the findings of the definition being
// mapped.
type mapper struct {
	m   Mapping
	cat Catalog
	// taskGroups and variableGroups are the exports given as documents, by id.
	taskGroups     map[string]azTaskGroup
	variableGroups map[int]azVariableGroup
	findings       []Finding
	secrets        []SecretRef
	// tasks counts the tasks of the definition being mapped (task groups expanded).
	tasks int
}

// maxTasks bounds the tasks of one definition, task groups expanded.
const maxTasks = 2000

func (c *mapper) note(path string, s Status, msg string) {
	c.findings = append(c.findings, Finding{Path: path, Status: s, Message: msg})
}

// tooMany reports (once) that a definition has more tasks than the import takes.
func (c *mapper) tooMany(path string) bool {
	c.tasks++
	if c.tasks == maxTasks+1 {
		c.note(path, Dropped, fmt.Sprintf("the definition has more than %d tasks (task groups expanded); the rest are left out", maxTasks))
	}
	return c.tasks > maxTasks
}

// Import maps documents to results, one per release definition found in them, in
// document order. A document is a release definition, a {count, value} list of them, a
// task group export or a variable group export (or a list of those). Task group and
// variable group exports are read first, so that any definition can use them. A document
// that cannot be read at all (not JSON, too big or too deep, no definition in it) is a
// *DocumentError and nothing is returned; anything odd inside a definition is a finding.
func Import(docs [][]byte, m Mapping, cat Catalog) ([]Result, error) {
	if len(docs) > MaxDocuments {
		return nil, &DocumentError{Document: MaxDocuments, Message: fmt.Sprintf("%d documents; at most %d are taken at once", len(docs), MaxDocuments)}
	}
	c := &mapper{m: m, cat: cat, taskGroups: map[string]azTaskGroup{}, variableGroups: map[int]azVariableGroup{}}
	type defDoc struct {
		doc  int
		path string
		raw  json.RawMessage
	}
	var defs []defDoc
	for i, d := range docs {
		items, err := readDocument(i, d)
		if err != nil {
			return nil, err
		}
		for _, it := range items {
			switch it.kind {
			case kindDefinition:
				defs = append(defs, defDoc{i, it.path, it.raw})
			case kindTaskGroup:
				var tg azTaskGroup
				if err := json.Unmarshal(it.raw, &tg); err != nil {
					return nil, typeError(i, it.path, err)
				}
				c.taskGroups[strings.ToLower(strings.TrimSpace(string(tg.ID)))] = tg
			case kindVariableGroup:
				var vg azVariableGroup
				if err := json.Unmarshal(it.raw, &vg); err != nil {
					return nil, typeError(i, it.path, err)
				}
				c.variableGroups[int(vg.ID)] = vg
			}
		}
	}
	if len(defs) > maxDefinitions {
		return nil, &DocumentError{Document: defs[maxDefinitions].doc, Message: fmt.Sprintf("more than %d release definitions in one import", maxDefinitions)}
	}
	var out []Result
	for _, d := range defs {
		var def azDefinition
		if err := json.Unmarshal(d.raw, &def); err != nil {
			return nil, typeError(d.doc, d.path, err)
		}
		c.findings, c.secrets, c.tasks = nil, nil, 0
		snap := c.definition(&def)
		src := Source{Document: d.doc, ID: int(def.ID), URL: strings.TrimSpace(string(def.URL)),
			Name: strings.TrimSpace(string(def.Name)), Revision: int(def.Revision)}
		if src.URL == "" {
			src.URL = strings.TrimSpace(string(def.Links.Self.Href))
		}
		if d.path != "" {
			for i := range c.findings {
				c.findings[i].Path = d.path + "." + c.findings[i].Path
			}
		}
		out = append(out, Result{Source: src, Definition: snap, Findings: c.findings, Secrets: c.secrets})
	}
	if len(out) == 0 {
		return nil, &DocumentError{Document: 0, Message: "no release definition in the documents (a definition has \"environments\")"}
	}
	return out, nil
}

type docKind int

const (
	kindDefinition docKind = iota
	kindTaskGroup
	kindVariableGroup
)

type docItem struct {
	kind docKind
	path string
	raw  json.RawMessage
}

// readDocument checks a document's size and depth, then splits it into the objects it
// holds: one, or the items of a {count, value} list.
func readDocument(i int, d []byte) ([]docItem, error) {
	if len(d) > MaxDocumentBytes {
		return nil, &DocumentError{Document: i, Message: fmt.Sprintf("is %d bytes; at most %d are taken", len(d), MaxDocumentBytes)}
	}
	if err := checkDepth(d); err != nil {
		return nil, &DocumentError{Document: i, Message: err.Error()}
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(d, &top); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, &DocumentError{Document: i, Message: fmt.Sprintf("is not JSON: %v (at byte %d)", se, se.Offset)}
		}
		return nil, &DocumentError{Document: i, Message: "is not a JSON object (an Azure release definition or a {count, value} list)"}
	}
	if v, ok := top["value"]; ok && top["environments"] == nil && top["tasks"] == nil {
		var list []json.RawMessage
		if err := json.Unmarshal(v, &list); err != nil {
			return nil, &DocumentError{Document: i, Path: "value", Message: "value is not a list"}
		}
		var out []docItem
		for j, raw := range list {
			p := fmt.Sprintf("value[%d]", j)
			k, err := kindOf(raw)
			if err != nil {
				return nil, &DocumentError{Document: i, Path: p, Message: err.Error()}
			}
			out = append(out, docItem{k, p, raw})
		}
		return out, nil
	}
	k, err := kindOf(d)
	if err != nil {
		return nil, &DocumentError{Document: i, Message: err.Error()}
	}
	return []docItem{{k, "", d}}, nil
}

// kindOf tells a release definition ("environments") from a task group export ("tasks")
// and a variable group export ("variables" without environments).
func kindOf(raw json.RawMessage) (docKind, error) {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(raw, &probe); err != nil {
		return 0, errors.New("is not a JSON object")
	}
	switch {
	case probe["environments"] != nil:
		return kindDefinition, nil
	case probe["tasks"] != nil:
		return kindTaskGroup, nil
	case probe["variables"] != nil && probe["name"] != nil:
		return kindVariableGroup, nil
	}
	return 0, errors.New("is neither a release definition (no \"environments\"), a task group (\"tasks\") nor a variable group (\"variables\")")
}

// checkDepth refuses JSON nested deeper than MaxDepth before anything decodes it: one
// pass over the bytes, skipping strings (the decoders check the syntax afterwards).
func checkDepth(d []byte) error {
	depth := 0
	inString, escaped := false, false
	for _, ch := range d {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case ch == '\\':
				escaped = true
			case ch == '"':
				inString = false
			}
		case ch == '"':
			inString = true
		case ch == '{' || ch == '[':
			depth++
			if depth > MaxDepth {
				return fmt.Errorf("is nested more than %d levels deep", MaxDepth)
			}
		case ch == '}' || ch == ']':
			depth--
		}
	}
	return nil
}

// typeError names the field whose JSON type is wrong.
func typeError(doc int, base string, err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		p := te.Field
		if base != "" {
			p = base + "." + p
		}
		return &DocumentError{Document: doc, Path: p, Message: fmt.Sprintf("has a %s where a %s is expected", te.Value, jsonType(te.Type.Kind().String()))}
	}
	return &DocumentError{Document: doc, Path: base, Message: err.Error()}
}

func jsonType(kind string) string {
	switch kind {
	case "map", "struct":
		return "object"
	case "slice":
		return "list"
	case "int", "float64":
		return "number"
	case "bool":
		return "boolean"
	}
	return kind
}

// definition maps one release definition.
func (c *mapper) definition(def *azDefinition) spec.DefinitionSnapshot {
	snap := spec.DefinitionSnapshot{
		Name:              strings.TrimSpace(string(def.Name)),
		Description:       string(def.Description),
		ReleaseNameFormat: strings.TrimSpace(string(def.ReleaseNameFormat)),
	}
	if snap.Name == "" {
		c.note("name", NeedsInput, "the definition has no name")
	}
	if p := strings.Trim(strings.TrimSpace(string(def.Path)), `\`); p != "" {
		c.note("path", Dropped, fmt.Sprintf("folder %q: Cairn has no definition folders", string(def.Path)))
	}
	if len(def.Tags) > 0 {
		c.note("tags", Dropped, "definition tags: Cairn has none")
	}
	snap.Variables = c.variables("", "", def.Variables)
	snap.VariableGroups = c.variableGroupNames("variableGroups", def.VariableGroups)
	c.options("", def.RetentionPolicy, nil, nil)
	snap.ArtifactSources = c.artifacts(def)
	snap.Schedules = c.triggers(def, snap.ArtifactSources)

	// Environments in rank order (Azure lists them so, but does not promise it).
	order := make([]int, len(def.Environments))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return def.Environments[order[a]].Rank < def.Environments[order[b]].Rank })
	names := map[string]bool{}
	for _, e := range def.Environments {
		names[strings.TrimSpace(string(e.Name))] = true
	}
	for _, i := range order {
		snap.Environments = append(snap.Environments, c.environment(fmt.Sprintf("environments[%d]", i), &def.Environments[i], names))
	}
	if len(def.Environments) == 0 {
		c.note("environments", NeedsInput, "the definition has no environments; Cairn needs at least one")
	}
	return snap
}

// variables maps the variables of the definition (envPath "") or of the environment at
// envPath named envName (sorted by name: JSON objects have no order).
func (c *mapper) variables(envPath, envName string, vars map[string]configVar) []spec.Variable {
	var out []spec.Variable
	for _, name := range sortedKeys(vars) {
		v := vars[name]
		p := SecretPath(envPath, name)
		sv := spec.Variable{Name: name, Value: string(v.Value), Secret: bool(v.IsSecret), SettableAtReleaseTime: bool(v.AllowOverride)}
		if v.IsSecret {
			sv.Value = ""
			if val, ok := c.secretValue(envName, name); ok {
				sv.Value = val
				c.note(p, Mapped, "secret variable: value given in the mapping")
			} else {
				c.secrets = append(c.secrets, SecretRef{Environment: envName, Variable: name, Finding: len(c.findings)})
				c.note(p, NeedsInput, "secret variable: Azure never exports secret values; give it in mapping.secretValues")
			}
		}
		if v.AllowOverride {
			c.note(p+".allowOverride", Mapped, "settable at release time")
		}
		out = append(out, sv)
	}
	return out
}

func (c *mapper) secretValue(env, name string) (string, bool) {
	for _, s := range c.m.SecretValues {
		if strings.EqualFold(s.Variable, name) && strings.EqualFold(strings.TrimSpace(s.Environment), env) && s.Value != "" {
			return s.Value, true
		}
	}
	return "", false
}

// variableGroupNames maps Azure variable group ids to library group names.
func (c *mapper) variableGroupNames(base string, ids []flexInt) []string {
	var out []string
	for i, id := range ids {
		p := fmt.Sprintf("%s[%d]", base, i)
		name := ""
		for _, m := range c.m.VariableGroups {
			if m.Azure == int(id) {
				name = strings.TrimSpace(m.Name)
			}
		}
		how := "the mapping"
		if name == "" {
			if vg, ok := c.variableGroups[int(id)]; ok {
				name, how = strings.TrimSpace(string(vg.Name)), "its export"
			}
		}
		switch {
		case name == "":
			c.note(p, NeedsInput, fmt.Sprintf("variable group %d: map it to a library group (mapping.variableGroups) or give its export as a document", id))
		case !contains(c.cat.VariableGroups, name):
			c.note(p, NeedsInput, fmt.Sprintf("variable group %d is %q (from %s), which is not in Cairn's library: create it there", id, name, how))
		default:
			for _, g := range c.cat.VariableGroups {
				if strings.EqualFold(g, name) {
					name = g
				}
			}
			if !contains(out, name) {
				out = append(out, name)
			}
			c.note(p, Mapped, fmt.Sprintf("variable group %d → library group %q", id, name))
		}
	}
	return out
}

// identity maps an Azure identity to a Cairn principal.
func (c *mapper) identity(ref *identityRef) (spec.Approver, bool) {
	keys := []string{string(ref.UniqueName), string(ref.ID), string(ref.DisplayName)}
	for _, m := range c.m.Identities {
		for _, k := range keys {
			if k != "" && strings.EqualFold(strings.TrimSpace(m.Azure), strings.TrimSpace(k)) {
				return spec.Approver{Kind: m.Kind, Name: strings.TrimSpace(m.Name)}, true
			}
		}
	}
	un := strings.TrimSpace(string(ref.UniqueName))
	if ref.IsContainer {
		// Azure group names read "[Project]\Group".
		name := un
		if i := strings.LastIndex(name, `\`); i >= 0 {
			name = name[i+1:]
		}
		for _, g := range c.cat.Groups {
			if name != "" && (g == name || g == strings.TrimSpace(string(ref.DisplayName))) {
				return spec.Approver{Kind: spec.ApproverGroup, Name: g}, true
			}
		}
		return spec.Approver{}, false
	}
	for _, u := range c.cat.Users {
		if un != "" && u == un {
			return spec.Approver{Kind: spec.ApproverUser, Name: u}, true
		}
	}
	return spec.Approver{}, false
}

func identityName(ref *identityRef) string {
	for _, s := range []flexString{ref.UniqueName, ref.DisplayName, ref.ID} {
		if strings.TrimSpace(string(s)) != "" {
			return strings.TrimSpace(string(s))
		}
	}
	return "(no name)"
}

// connection maps an Azure endpoint id or name to a Cairn connection name.
func (c *mapper) connection(keys ...string) (string, bool) {
	for _, k := range keys {
		k = strings.TrimSpace(k)
		if k == "" {
			continue
		}
		for _, m := range c.m.ServiceConnections {
			if strings.EqualFold(strings.TrimSpace(m.Azure), k) && strings.TrimSpace(m.Connection) != "" {
				return strings.TrimSpace(m.Connection), true
			}
		}
	}
	return "", false
}

// enumName reads an Azure enum written as its name or its number.
func enumName(v flexString, numbers map[int]string) string {
	s := strings.TrimSpace(string(v))
	if n, err := strconv.Atoi(s); err == nil {
		if name, ok := numbers[n]; ok {
			return name
		}
		return s
	}
	return strings.ToLower(s)
}
