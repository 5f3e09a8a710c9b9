package jenkins

import (
	"errors"
	"testing"

	"github.com/cairnhq/cairn/integrations/hook"
)

func TestJobFullNameFromURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url    string
		number int64
		want   string
	}{
		{"job/a/job/b/12/", 12, "a/b"},
		{"job/a/job/b/12", 12, "a/b"},
		{"https://ci.example.com/job/a/job/b/12/", 12, "a/b"},
		{"https://ci.example.com/jenkins/job/a/12/", 12, "a"},
		{"https://ci.example.com/job/a/job/b/", 0, "a/b"},
		{"job/app/", 0, "app"},
		{"view/All/job/app/7/", 7, "app"},
		{"job/a/job/12/", 0, "a/12"},     // a job named "12", as a job URL
		{"job/a/job/12/5/", 5, "a/12"},   // build 5 of that job
		{"job/job/job/x/5/", 5, "job/x"}, // a folder named "job"
		// Multibranch: Jenkins' item name is "feature%2Fx".
		{"job/repo/job/feature%252Fx/3/", 3, "repo/feature%2Fx"},
		{"job/repo/job/feature%2Fx/3/", 3, "repo/feature%2Fx"},
		{"http://h:8080/job/repo/job/feature%252Fx/3/", 3, "repo/feature%2Fx"},
		{"job/my%20app/1/", 1, "my app"},
		{"job/caf%C3%A9/1/", 1, "café"},
	}
	for _, tt := range tests {
		got, err := JobFullNameFromURL(tt.url, tt.number)
		if err != nil || got != tt.want {
			t.Errorf("JobFullNameFromURL(%q, %d) = %q, %v; want %q", tt.url, tt.number, got, err, tt.want)
		}
	}
	for _, bad := range []struct {
		url    string
		number int64
	}{
		{"job/a/12/", 13},      // wrong number
		{"job/a/", 12},         // no number
		{"https://ci/12/", 12}, // no job segment
		{"", 0},
		{"job//1/", 1},
		{"job/a%zz/1/", 1},
		{"http://[::1/job/a/1/", 1},
	} {
		got, err := JobFullNameFromURL(bad.url, bad.number)
		if !errors.Is(err, hook.ErrInvalid) {
			t.Errorf("JobFullNameFromURL(%q, %d) = %q, %v; want ErrInvalid", bad.url, bad.number, got, err)
		}
	}
}

func TestJobPathRoundTrip(t *testing.T) {
	t.Parallel()
	for name, path := range map[string]string{
		"a/b":              "job/a/job/b",
		"repo/feature%2Fx": "job/repo/job/feature%252Fx",
		"my app":           "job/my%20app",
	} {
		if got := jobPath(name); got != path {
			t.Errorf("jobPath(%q) = %q, want %q", name, got, path)
		}
		back, err := JobFullNameFromURL(path+"/", 0)
		if err != nil || back != name {
			t.Errorf("JobFullNameFromURL(jobPath(%q)) = %q, %v", name, back, err)
		}
	}
}
