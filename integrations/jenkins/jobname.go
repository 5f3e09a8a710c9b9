package jenkins

import (
	"net/url"
	"strconv"
	"strings"
)

// JobFullNameFromURL returns the full name of the job a Jenkins URL points
// at: "job/a/job/b/12/" (build 12, when number is 12) and "job/a/job/b/" both
// give "a/b". The URL may be absolute (with a context path such as
// "/jenkins/") or relative; "view/…" segments before the jobs are skipped.
// number is the build number that ends a build URL, or 0 for a job URL; it
// removes the ambiguity of a job named "12".
//
// Decoding: each job segment is percent-decoded once, and a "/" that this
// produces is encoded back as "%2F". Jenkins item names cannot contain "/",
// so a multibranch project stores branch "feature/x" as the item
// "feature%2Fx", whose URL segment is "feature%252Fx"; decoding once gives
// the item name, as in Jenkins' own full name "repo/feature%2Fx" (what a user
// writes in an artifact source, and what Client re-encodes into API paths). A
// URL that carries the branch encoded only once ("feature%2Fx", as written by
// hand or by a proxy that decoded one level) gives the same name. Spaces and
// other characters come out decoded: "job/my%20app/" is "my app".
func JobFullNameFromURL(rawURL string, number int64) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", invalid("build.url", "not a URL: %v", err)
	}
	segs := strings.Split(strings.Trim(u.EscapedPath(), "/"), "/")
	if number > 0 {
		if len(segs) == 0 || segs[len(segs)-1] != strconv.FormatInt(number, 10) {
			return "", invalid("build.url", "%q does not end with the build number %d", truncate(rawURL), number)
		}
		segs = segs[:len(segs)-1]
	}
	// Walk back over "job/<name>" pairs: whatever precedes them (a context
	// path, "view/x") is not part of the name.
	var names []string
	for i := len(segs) - 1; i >= 1 && segs[i-1] == "job" && segs[i] != ""; i -= 2 {
		name, err := url.PathUnescape(segs[i])
		if err != nil {
			return "", invalid("build.url", "bad escape in job segment %q", truncate(segs[i]))
		}
		names = append(names, strings.ReplaceAll(name, "/", "%2F"))
	}
	if len(names) == 0 {
		return "", invalid("build.url", "%q has no job/<name> segments", truncate(rawURL))
	}
	for i, j := 0, len(names)-1; i < j; i, j = i+1, j-1 {
		names[i], names[j] = names[j], names[i]
	}
	return strings.Join(names, "/"), nil
}

// jobPath is the URL path of a job from its full name: "a/b" gives
// "job/a/job/b", "repo/feature%2Fx" gives "job/repo/job/feature%252Fx".
func jobPath(fullName string) string {
	var b strings.Builder
	for i, name := range strings.Split(strings.Trim(fullName, "/"), "/") {
		if i > 0 {
			b.WriteByte('/')
		}
		b.WriteString("job/")
		b.WriteString(url.PathEscape(name))
	}
	return b.String()
}
