package model

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/99designs/gqlgen/graphql"

	"github.com/cairnhq/cairn/delivery"
)

// maxIDLength bounds the text of an id quoted back in an error.
const maxIDLength = 40

// MarshalID writes an id as GraphQL's ID: a decimal string (ent's global ids).
func MarshalID(id int) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) {
		_, _ = io.WriteString(w, strconv.Quote(strconv.Itoa(id)))
	})
}

// UnmarshalID reads an ID argument. Cairn's ids are decimal numbers; anything else ("1 OR 1=1",
// an id past the integer range, a float, an object) is the client's mistake and gets
// INVALID_INPUT (with field "id"), never INTERNAL.
func UnmarshalID(v any) (int, error) {
	var s string
	switch v := v.(type) {
	case string:
		s = v
	case json.Number:
		s = string(v)
	case int:
		s = strconv.Itoa(v)
	case int64:
		s = strconv.FormatInt(v, 10)
	default:
		return 0, delivery.Invalid("id", "an ID is a string of digits, not a %s", kindOf(v))
	}
	id, err := strconv.Atoi(s)
	if err != nil {
		if len(s) > maxIDLength {
			s = s[:maxIDLength] + "…"
		}
		return 0, delivery.Invalid("id", "%q is not an ID: IDs are decimal numbers", s)
	}
	return id, nil
}

func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case float32, float64:
		return "float"
	case []any:
		return "list"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}
