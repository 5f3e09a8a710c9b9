package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/cairnhq/cairn/delivery"
)

// TestSecureFileUploadErrorsNameTheField: a refused upload says which input is at fault
// (error.field, as GraphQL's extensions.field), so that the dashboard shows it beside that
// input; nothing is stored.
func TestSecureFileUploadErrorsNameTheField(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		viewer := h.tokenFor("vic", delivery.RoleViewer)
		post := func(token, query, body string, length int64) (int, map[string]string) {
			t.Helper()
			req, _ := http.NewRequest("POST", h.http.URL+"/api/securefiles?"+query, strings.NewReader(body))
			if length > 0 {
				req.ContentLength = length
				req.Body = io.NopCloser(strings.NewReader(strings.Repeat("x", int(length))))
			}
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var out struct{ Error map[string]string }
			raw, _ := io.ReadAll(resp.Body)
			if err := json.Unmarshal(raw, &out); err != nil {
				t.Fatalf("the answer is not JSON: %s", raw)
			}
			return resp.StatusCode, out.Error
		}
		q := func(kv ...string) string {
			v := url.Values{}
			for i := 0; i < len(kv); i += 2 {
				v.Set(kv[i], kv[i+1])
			}
			return v.Encode()
		}
		for _, c := range []struct {
			what, token, query, body string
			length                   int64
			status                   int
			code, field, message     string
		}{
			{"a name of digits", h.admin, q("name", "12345"), "data", 0, 400, "INVALID_INPUT", "name", "would read as an id"},
			{"a name with a slash", h.admin, q("name", "../etc/passwd"), "data", 0, 400, "INVALID_INPUT", "name", "slashes"},
			{"no name", h.admin, "", "data", 0, 400, "INVALID_INPUT", "name", "required"},
			{"a long description", h.admin, q("name", "a.pfx", "description", strings.Repeat("d", 5000)), "data", 0, 400, "INVALID_INPUT", "description", "longer"},
			{"an empty file", h.admin, q("name", "a.pfx"), "", 0, 400, "INVALID_INPUT", "content", "empty"},
			{"replace not a boolean", h.admin, q("name", "a.pfx", "replace", "maybe"), "data", 0, 400, "INVALID_INPUT", "replace", "true or false"},
			{"too large", h.admin, q("name", "a.pfx"), "", delivery.MaxSecureFileBytes + 1, 413, "INVALID_INPUT", "content", "at most"},
			{"a viewer", viewer, q("name", "a.pfx"), "data", 0, 403, "FORBIDDEN", "", ""},
			{"no token", "", q("name", "a.pfx"), "data", 0, 401, "UNAUTHENTICATED", "", ""},
		} {
			status, e := post(c.token, c.query, c.body, c.length)
			if status != c.status || e["code"] != c.code || e["field"] != c.field || !strings.Contains(e["message"], c.message) {
				t.Errorf("%s: %d %v, want %d %s field %q (%q)", c.what, status, e, c.status, c.code, c.field, c.message)
			}
		}
		if n := len(dig(h.ok(h.admin, `{ secureFiles { id } }`, nil), "secureFiles").([]any)); n != 0 {
			t.Errorf("%d secure files stored after refused uploads", n)
		}
		// A good one is stored, and a second of the same name without replace names the name.
		if status, e := post(h.admin, q("name", "a.pfx"), "data", 0); status != 201 {
			t.Fatalf("upload: %d %v", status, e)
		}
		if status, e := post(h.admin, q("name", "a.pfx"), "data", 0); status != 409 || e["code"] != "CONFLICT" {
			t.Errorf("a second a.pfx: %d %v, want 409 CONFLICT", status, e)
		}
	})
}
