package origin

import "testing"

func TestSame(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		target, base string
		want         bool
	}{
		{"https://ci.example.com/job/a/1/artifact/x", "https://ci.example.com/jenkins", true},
		{"https://CI.example.com:443/x", "https://ci.example.com", true},
		{"http://ci.example.com:80/x", "http://ci.example.com/", true},
		{"https://ci.example.com./x", "https://ci.example.com", true},
		{"http://ci.example.com/x", "https://ci.example.com", false},
		{"https://ci.example.com:8443/x", "https://ci.example.com", false},
		{"https://evil.example.com/x", "https://ci.example.com", false},
		{"https://ci.example.com.evil.com/x", "https://ci.example.com", false},
		{"https://ci.example.com@evil.com/x", "https://ci.example.com", false},
		{"https://user@ci.example.com/x", "https://ci.example.com", false},
		{"//ci.example.com/x", "https://ci.example.com", false},
		{"/job/x", "https://ci.example.com", false},
		{"javascript:alert(1)", "https://ci.example.com", false},
		{"file:///etc/passwd", "file:///etc", false},
		{"https://[::1]:8080/x", "https://[::1]:8080/", true},
		{"https://ci.example.com/x", "", false},
		{"", "", false},
	} {
		if got := Same(tt.target, tt.base); got != tt.want {
			t.Errorf("Same(%q, %q) = %v, want %v", tt.target, tt.base, got, tt.want)
		}
	}
}

func TestHTTP(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]bool{
		"https://ci.example.com/job/1/": true,
		"HTTP://ci/x":                   true,
		"javascript:alert(1)":           false,
		"JavaScript://ci/%0aalert(1)":   false,
		"data:text/html,<b>x</b>":       false,
		"vbscript:x":                    false,
		"/relative":                     false,
		"":                              false,
		"https:///nohost":               false,
		"ftp://ci/x":                    false,
	} {
		if got := HTTP(raw); got != want {
			t.Errorf("HTTP(%q) = %v, want %v", raw, got, want)
		}
	}
}
