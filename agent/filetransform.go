package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// FileTransform@1 (Azure's FileTransformV1 variable substitution): the job's variables replace
// values in JSON and XML configuration files.
//
//   - JSON: a variable whose name is a dotted path of keys ("ConnectionStrings.Default",
//     "Logging.LogLevel.Default", "servers.0.host" for an array element) replaces the value
//     there, if the path exists (keys compared without case; a key that itself holds dots
//     matches too). A number, boolean or null keeps its type when the value reads as one;
//     objects and arrays are replaced when the value is JSON of the same kind. Key order and
//     every other value are kept; the file is rewritten indented by two spaces.
//   - XML: <appSettings><add key="K" value="…"/> takes the variable K, and
//     <connectionStrings><add name="N" connectionString="…"/> the variable N; only those
//     attribute values change, the rest of the file is kept byte for byte.
//
// Variables: the job's user variables, and those earlier tasks set, by their names as written.

// maxTransformBytes bounds a file FileTransform reads.
const maxTransformBytes = 16 << 20

func runFileTransform(_ context.Context, rc *runContext) error {
	root := rc.path("folderPath")
	if root == "" {
		root = rc.dir
	}
	if fi, err := os.Stat(root); err != nil || !fi.IsDir() {
		return fmt.Errorf("folder %s does not exist", root)
	}
	kind := strings.ToLower(rc.in("fileType"))
	if kind != "json" && kind != "xml" {
		return fmt.Errorf("input fileType: %q is not json or xml", rc.in("fileType"))
	}
	targets := rc.raw("targetFiles")
	if strings.TrimSpace(targets) == "" {
		targets = map[string]string{"json": "**/*.json", "xml": "**/*.config"}[kind]
	}
	patterns, err := compileGlobs(targets)
	if err != nil {
		return fmt.Errorf("input targetFiles: %w", err)
	}
	files, err := matchFiles(root, patterns)
	if err != nil {
		return fmt.Errorf("listing %s: %w", root, err)
	}
	if len(files) == 0 {
		return fmt.Errorf("no file under %s matches %s", root, strings.Join(strings.Fields(targets), ", "))
	}
	vars := rc.j.transformVariables()
	for _, rel := range files {
		p := filepath.Join(root, filepath.FromSlash(rel))
		data, err := readBounded(p, maxTransformBytes)
		if err != nil {
			return err
		}
		var out []byte
		var changed []string
		if kind == "json" {
			out, changed, err = transformJSON(data, vars)
		} else {
			out, changed, err = transformXML(data, vars)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		if len(changed) == 0 {
			rc.logf("%s: no variable matched", rel)
			continue
		}
		fi, _ := os.Stat(p)
		if err := os.WriteFile(p, out, fi.Mode().Perm()); err != nil {
			return fmt.Errorf("writing %s: %w", rel, err)
		}
		rc.logf("%s: substituted %s", rel, strings.Join(changed, ", "))
	}
	return nil
}

func readBounded(p string, limit int64) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", p, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", p, limit)
	}
	return data, nil
}

// transformVariable is a variable FileTransform substitutes.
type transformVariable struct{ name, value string }

// transformVariables returns the job's variables by name, later ones (set by tasks) last.
func (j *jobRun) transformVariables() []transformVariable {
	var out []transformVariable
	for _, v := range j.asg.Variables {
		out = append(out, transformVariable{v.Name, v.Value})
	}
	for _, k := range j.setOrder {
		if v := j.setVars[k]; v.name != "" {
			out = append(out, transformVariable{v.name, v.value})
		}
	}
	return out
}

// jsonValue is a JSON value that keeps its objects' key order.
type jsonValue struct {
	kind  byte // '{', '[', or 0 for a scalar
	keys  []string
	vals  []*jsonValue
	items []*jsonValue
	raw   json.RawMessage // a scalar, as written
}

const maxJSONDepth = 200

func parseJSONValue(dec *json.Decoder, depth int) (*jsonValue, error) {
	if depth > maxJSONDepth {
		return nil, errors.New("JSON nested too deeply")
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			v := &jsonValue{kind: '{'}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, _ := kt.(string)
				child, err := parseJSONValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				v.keys, v.vals = append(v.keys, k), append(v.vals, child)
			}
			_, err := dec.Token()
			return v, err
		case '[':
			v := &jsonValue{kind: '['}
			for dec.More() {
				child, err := parseJSONValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				v.items = append(v.items, child)
			}
			_, err := dec.Token()
			return v, err
		}
		return nil, fmt.Errorf("unexpected %v", t)
	default:
		raw, err := json.Marshal(t)
		return &jsonValue{raw: raw}, err
	}
}

func (v *jsonValue) write(b *bytes.Buffer, indent string) {
	switch v.kind {
	case '{':
		if len(v.keys) == 0 {
			b.WriteString("{}")
			return
		}
		b.WriteString("{\n")
		for i, k := range v.keys {
			kb, _ := json.Marshal(k)
			b.WriteString(indent + "  ")
			b.Write(kb)
			b.WriteString(": ")
			v.vals[i].write(b, indent+"  ")
			if i < len(v.keys)-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString(indent + "}")
	case '[':
		if len(v.items) == 0 {
			b.WriteString("[]")
			return
		}
		b.WriteString("[\n")
		for i, it := range v.items {
			b.WriteString(indent + "  ")
			it.write(b, indent+"  ")
			if i < len(v.items)-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString(indent + "]")
	default:
		b.Write(v.raw)
	}
}

// find returns the values at a dotted path (keys without case, a key may hold dots).
func (v *jsonValue) find(path string, out []*jsonValue) []*jsonValue {
	switch v.kind {
	case '{':
		for i, k := range v.keys {
			switch {
			case strings.EqualFold(k, path):
				out = append(out, &jsonValue{kind: 'p', vals: []*jsonValue{v.vals[i]}})
			case len(path) > len(k) && path[len(k)] == '.' && strings.EqualFold(path[:len(k)], k):
				out = v.vals[i].find(path[len(k)+1:], out)
			}
		}
	case '[':
		head, rest, more := strings.Cut(path, ".")
		n, err := strconv.Atoi(head)
		if err != nil || n < 0 || n >= len(v.items) {
			return out
		}
		if !more {
			return append(out, &jsonValue{kind: 'p', vals: []*jsonValue{v.items[n]}})
		}
		return v.items[n].find(rest, out)
	}
	return out
}

// substitute replaces target's value with value, keeping its JSON type where it can.
func (target *jsonValue) substitute(value string) {
	var parsed any
	valid := json.Unmarshal([]byte(value), &parsed) == nil
	switch {
	case target.kind == '{' || target.kind == '[':
		if valid {
			if nv, err := parseJSONValue(json.NewDecoder(strings.NewReader(value)), 0); err == nil && nv.kind == target.kind {
				*target = *nv
				return
			}
		}
	case len(target.raw) > 0 && target.raw[0] != '"' && valid:
		switch parsed.(type) {
		case float64, bool, nil:
			target.raw = json.RawMessage(strings.TrimSpace(value))
			return
		}
	}
	raw, _ := json.Marshal(value)
	*target = jsonValue{raw: raw}
}

func transformJSON(data []byte, vars []transformVariable) ([]byte, []string, error) {
	dec := json.NewDecoder(bytes.NewReader(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))))
	dec.UseNumber()
	root, err := parseJSONValue(dec, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("not valid JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, nil, errors.New("not valid JSON: more after the top-level value")
	}
	var changed []string
	for _, v := range vars {
		hits := root.find(v.name, nil)
		for _, h := range hits {
			h.vals[0].substitute(v.value)
		}
		if len(hits) > 0 && !slices.Contains(changed, v.name) {
			changed = append(changed, v.name)
		}
	}
	var b bytes.Buffer
	root.write(&b, "")
	b.WriteByte('\n')
	return b.Bytes(), changed, nil
}

// xmlAttrRe finds one attribute in the text of a start tag.
func xmlAttrRe(name string) *regexp.Regexp {
	return regexp.MustCompile(`(\s` + regexp.QuoteMeta(name) + `\s*=\s*)("[^"]*"|'[^']*')`)
}

func xmlEscapeAttr(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return strings.ReplaceAll(b.String(), `"`, "&#34;")
}

// transformXML rewrites the value attributes of appSettings and connectionStrings entries in
// place, leaving every other byte of the file as it was.
func transformXML(data []byte, vars []transformVariable) ([]byte, []string, error) {
	lookup := func(name string) (string, bool) {
		found, val := false, ""
		for _, v := range vars {
			if strings.EqualFold(v.name, name) {
				found, val = true, v.value
			}
		}
		return val, found
	}
	type edit struct {
		start, end int
		attr, val  string
	}
	var edits []edit
	var changed []string
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	var stack []string
	for {
		start := int(dec.InputOffset())
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("not valid XML: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(stack) > maxJSONDepth {
				return nil, nil, errors.New("XML nested too deeply")
			}
			parent := ""
			if len(stack) > 0 {
				parent = stack[len(stack)-1]
			}
			stack = append(stack, t.Name.Local)
			if t.Name.Local != "add" {
				continue
			}
			keyAttr, valAttr := "", ""
			switch parent {
			case "appSettings":
				keyAttr, valAttr = "key", "value"
			case "connectionStrings":
				keyAttr, valAttr = "name", "connectionString"
			default:
				continue
			}
			for _, a := range t.Attr {
				if a.Name.Local != keyAttr {
					continue
				}
				if val, ok := lookup(a.Value); ok {
					edits = append(edits, edit{start, int(dec.InputOffset()), valAttr, val})
					if !slices.Contains(changed, a.Value) {
						changed = append(changed, a.Value)
					}
				}
			}
		case xml.EndElement:
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		}
		// Token reports <x/> as a start and an end: the end has no bytes of its own.
	}
	if len(edits) == 0 {
		return data, nil, nil
	}
	var b bytes.Buffer
	last := 0
	for _, e := range edits {
		tag := string(data[e.start:e.end])
		re := xmlAttrRe(e.attr)
		repl := func(m string) string {
			sub := re.FindStringSubmatch(m)
			return sub[1] + `"` + xmlEscapeAttr(e.val) + `"`
		}
		if re.MatchString(tag) {
			tag = re.ReplaceAllStringFunc(tag, repl)
		} else {
			// No such attribute yet: add it before the tag's end.
			end := strings.LastIndex(tag, "/>")
			if end < 0 {
				end = strings.LastIndex(tag, ">")
			}
			tag = tag[:end] + ` ` + e.attr + `="` + xmlEscapeAttr(e.val) + `"` + tag[end:]
		}
		b.Write(data[last:e.start])
		b.WriteString(tag)
		last = e.end
	}
	b.Write(data[last:])
	return b.Bytes(), changed, nil
}
