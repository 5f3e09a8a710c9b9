package delivery

import (
	"strings"
	"testing"
	"time"
)

// TestNameTokensOneList checks that validation and the formatter read the
// same list: every token's syntax (and variants of it) validates and
// expands, and a token the formatter would leave as written is refused.
func TestNameTokensOneList(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	accepted := []string{"$(rev:rrrr)", "$(REV:r)", "$(build.buildnumber)", "$(release.definitionname)", "$(date)", "$(Date:yy.MM.dd_HH-mm-ss)"}
	for _, nt := range nameTokens {
		accepted = append(accepted, nt.syntax)
	}
	for _, f := range accepted {
		var p problems
		validateNameFormat(&p, "R "+f)
		if err := p.err(); err != nil {
			t.Errorf("%q refused: %v", f, err)
		}
		if got := formatReleaseName("R "+f, 7, "1.2.3", "web", now); strings.Contains(got, "$(") {
			t.Errorf("%q validates but formats as %q", f, got)
		}
	}
	for _, f := range []string{"$(rev:)", "$(rev:x)", "$(Build.Foo)", "$(Date:)", "$(Date:yyyy/MM)", "$(Date:%Y)", "$()"} {
		var p problems
		validateNameFormat(&p, "R "+f)
		if p.err() == nil {
			t.Errorf("%q accepted", f)
		}
		if got := formatReleaseName("R "+f, 7, "1.2.3", "web", now); !strings.Contains(got, f) {
			t.Errorf("%q is refused but formats as %q", f, got)
		}
	}
}
