package hook

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// ParseError is a payload that cannot be accepted: Kind is ErrMalformed or
// ErrInvalid, Field the JSON path of the culprit ("build.number", empty for
// the whole document), Err the underlying decoding error if any.
type ParseError struct {
	Payload string // "jenkins notification", "team build event"
	Kind    error
	Field   string
	Reason  string
	Err     error
}

func (e *ParseError) Error() string {
	var b strings.Builder
	b.WriteString(e.Payload)
	b.WriteString(": ")
	b.WriteString(e.Kind.Error())
	if e.Field != "" {
		b.WriteString(": ")
		b.WriteString(e.Field)
	}
	b.WriteString(": ")
	b.WriteString(e.Reason)
	return b.String()
}

// Unwrap returns the kind and the cause, so errors.Is(err, ErrMalformed) and
// errors.As(err, &*json.SyntaxError) both work.
func (e *ParseError) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}

// DecodeError turns an encoding/json error into a *ParseError of kind
// ErrMalformed with a reason a CI administrator can act on.
func DecodeError(payload string, err error) *ParseError {
	pe := &ParseError{Payload: payload, Kind: ErrMalformed, Err: err}
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn) && strings.Contains(syn.Error(), "unexpected end of JSON input"):
		pe.Reason = "truncated JSON"
	case errors.As(err, &syn):
		pe.Reason = fmt.Sprintf("not JSON at byte %d: %v", syn.Offset, syn)
	case errors.As(err, &typ) && typ.Field == "":
		pe.Reason = fmt.Sprintf("JSON %s where an object was expected", typ.Value)
	case errors.As(err, &typ):
		pe.Field = typ.Field
		pe.Reason = fmt.Sprintf("JSON %s where %s was expected", typ.Value, typeName(typ.Type.Kind().String()))
	default:
		pe.Reason = err.Error()
	}
	return pe
}

func typeName(kind string) string {
	switch {
	case strings.HasPrefix(kind, "int"), strings.HasPrefix(kind, "uint"), strings.HasPrefix(kind, "float"):
		return "a number"
	case kind == "string":
		return "a string"
	case kind == "bool":
		return "a boolean"
	case kind == "slice", kind == "array":
		return "an array"
	case kind == "map", kind == "struct":
		return "an object"
	}
	return kind
}
