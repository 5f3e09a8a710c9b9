package teambuild

import (
	"net/http"

	"github.com/cairnhq/cairn/integrations/hook"
)

// Authenticate checks the Basic auth of a service hook request against a
// service connection's webhook credentials, in constant time (hook.Equal)
// and with both parts compared whatever the outcome of the other. An empty
// password accepts nothing: a hook without credentials is refused rather
// than let through, unlike azuredevops.Webhook.Parse. The user name may be
// empty (Azure DevOps makes it optional) but must then be empty in the
// request too.
func Authenticate(r *http.Request, username, password string) bool {
	u, p, ok := r.BasicAuth()
	userOK := hook.Equal(u, username)
	passOK := hook.EqualSecret(p, password)
	return ok && userOK && passOK
}
