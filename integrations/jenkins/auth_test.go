package jenkins

import (
	"net/http/httptest"
	"testing"
)

func TestAuthenticate(t *testing.T) {
	t.Parallel()
	const user, pass, token = "cairn", "p@ss:w/rd", "s3cr3t"
	tests := []struct {
		name              string
		basicUser, basicP string // "" user and pass: no Basic auth
		query             string
		cfgUser, cfgPass  string
		cfgToken          string
		want              bool
	}{
		{"basic", user, pass, "", user, pass, "", true},
		{"basic percent-encoded as the plugin sends it", user, "p%40ss%3Aw%2Frd", "", user, pass, "", true},
		{"basic partly encoded", user, "p%40ss:w/rd", "", user, pass, "", true},
		{"encoded user", "ca%69rn", pass, "", user, pass, "", true},
		{"wrong password", user, "p@ss", "", user, pass, "", false},
		{"wrong user", "other", pass, "", user, pass, "", false},
		{"encoded wrong password", user, "p%41ss", "", user, pass, "", false},
		{"empty user configured and sent", "", pass, "", "", pass, "", true},
		{"basic disabled without password", user, "", "", user, "", "", false},
		{"token", "", "", "token=s3cr3t", "", "", token, true},
		{"token query-encoded", "", "", "token=s3cr%33t", "", "", token, true},
		{"wrong token", "", "", "token=s3cr3", "", "", token, false},
		{"empty token sent", "", "", "token=", "", "", token, false},
		{"empty token configured", "", "", "token=", "", "", "", false},
		{"nothing configured", "", "", "", "", "", "", false},
		{"no credentials", "", "", "", user, pass, token, false},
		{"token when both configured", "", "", "token=s3cr3t", user, pass, token, true},
		{"basic when both configured", user, pass, "token=nope", user, pass, token, true},
		{"token in basic password is not the token", user, token, "", user, pass, token, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			target := "/webhooks/jenkins"
			if tt.query != "" {
				target += "?" + tt.query
			}
			r := httptest.NewRequest("POST", target, nil)
			if tt.basicUser != "" || tt.basicP != "" {
				r.SetBasicAuth(tt.basicUser, tt.basicP)
			}
			if got := Authenticate(r, tt.cfgUser, tt.cfgPass, tt.cfgToken); got != tt.want {
				t.Errorf("Authenticate = %v, want %v", got, tt.want)
			}
		})
	}
}
