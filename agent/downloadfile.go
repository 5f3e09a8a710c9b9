package agent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cairnhq/cairn/internal/origin"
	"github.com/cairnhq/cairn/internal/tasklib"
)

// DownloadFile@1: one HTTP(S) GET from the agent into a file under the job's directory (the
// custom-artifact route). The request goes through the outbound address guard (as InvokeHttp's).
// The task's Credentials (a service connection's, sent by the server only for a URL on their
// Origin) are attached only when the expanded URL is on Origin, and dropped on a redirect to
// another origin (Go's client would keep an explicit Authorization header on a redirect to the
// same host but another port or scheme; the check here is stricter). The body is streamed to a
// temporary file beside the target, hashed on the way, capped at tasklib.DownloadFileMaxBytes,
// and renamed into place only when complete and, if asked, its sha256 matches.

func runDownloadFile(ctx context.Context, rc *runContext) error {
	raw := rc.in("url")
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("input url: %q is not an http or https URL", raw)
	}
	if u.User != nil {
		return fmt.Errorf("input url: give credentials with a service connection, not in the URL")
	}
	target, err := rc.jobPath("targetPath")
	if err != nil {
		return err
	}
	want := strings.ToLower(rc.in("sha256"))
	if want != "" {
		if b, err := hex.DecodeString(want); err != nil || len(b) != sha256.Size {
			return fmt.Errorf("input sha256: %q is not 64 hexadecimal digits", truncate(want, 80))
		}
	}
	timeout := 600 * time.Second
	if v := rc.in("timeout"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 || n > 86400 {
			return fmt.Errorf("input timeout: %q is not a number of seconds (1-86400)", v)
		}
		timeout = time.Duration(n) * time.Second
	}
	overwrite := rc.bool("overwrite", false)
	cred, home := rc.task.Credentials, rc.task.Origin
	if rc.in("serviceConnection") != "" && cred == nil {
		rc.logf("Service connection %s has no credentials: the download is anonymous", rc.in("serviceConnection"))
	}
	if cred != nil && !origin.Same(u.String(), home) {
		return fmt.Errorf("input url: %s is not on the service connection's origin %s: its credentials are only sent there", u.Redacted(), home)
	}

	root, err := os.OpenRoot(rc.j.dir)
	if err != nil {
		return fmt.Errorf("opening the job's directory: %w", err)
	}
	defer root.Close()
	rel, _ := filepath.Rel(rc.j.dir, target)
	if fi, err := root.Lstat(rel); err == nil {
		if fi.IsDir() {
			return fmt.Errorf("input targetPath: %s is a directory", target)
		}
		if !overwrite {
			return fmt.Errorf("input targetPath: %s exists (set overwrite to replace it)", target)
		}
	}
	if err := root.MkdirAll(filepath.Dir(rel), 0o755); err != nil {
		return fmt.Errorf("input targetPath: creating %s: %w", filepath.Dir(target), err)
	}

	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fmt.Errorf("building the request: %w", err)
	}
	if cred != nil {
		req.SetBasicAuth(cred.Username, cred.Password)
	}
	client := &http.Client{Transport: rc.j.x.outboundGuard().Transport(30 * time.Second),
		CheckRedirect: func(r *http.Request, via []*http.Request) error {
			if len(via) >= 5 {
				return errors.New("more than 5 redirects")
			}
			if cred != nil && !origin.Same(r.URL.String(), home) {
				r.Header.Del("Authorization")
				rc.logf("Redirected to %s, outside the service connection's origin: following without its credentials", redactURL(r.URL))
			}
			return nil
		}}
	rc.w.emitOwn("##[command]GET "+rc.w.mask([]byte(redactURL(u))), "command")
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", redactURL(u), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: the response status is %s, not 200", redactURL(resp.Request.URL), resp.Status)
	}
	max := tasklib.DownloadFileMaxBytes
	if resp.ContentLength > max {
		return fmt.Errorf("the file is %d bytes, more than the %s DownloadFile writes", resp.ContentLength, tasklib.DownloadFileMaxSize)
	}
	tmp := filepath.Join(filepath.Dir(rel), "."+filepath.Base(rel)+".cairn-download")
	f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("input targetPath: %w", err)
	}
	done := false
	defer func() {
		if !done {
			f.Close()
			root.Remove(tmp)
		}
	}()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(resp.Body, max+1))
	if err != nil {
		return fmt.Errorf("GET %s: reading the file: %w", redactURL(u), err)
	}
	if n > max {
		return fmt.Errorf("the file is larger than the %s DownloadFile writes", tasklib.DownloadFileMaxSize)
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return fmt.Errorf("GET %s: got %d bytes of %d", redactURL(u), n, resp.ContentLength)
	}
	got := hex.EncodeToString(h.Sum(nil))
	if want != "" && got != want {
		return fmt.Errorf("the file's sha256 is %s, not %s as input sha256 says", got, want)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", target, err)
	}
	if err := root.Rename(tmp, rel); err != nil {
		return fmt.Errorf("writing %s: %w", target, err)
	}
	done = true
	rc.j.setJobVariable("downloadedFilePath", target)
	rc.j.setJobVariable(rc.task.Name+".downloadedFilePath", target)
	rc.logf("Downloaded %d bytes (sha256 %s) to %s (variable downloadedFilePath, %s.downloadedFilePath)", n, got, target, rc.task.Name)
	return nil
}

// jobPath resolves a FILE_PATH input that must name a file inside the job's directory:
// relative to the task's working directory, or absolute; "..", or a path elsewhere, is refused.
// (Symbolic links are resolved safely by the caller's os.Root.)
func (rc *runContext) jobPath(name string) (string, error) {
	p := rc.in(name)
	if p == "" {
		return "", fmt.Errorf("input %s is required", name)
	}
	if strings.ContainsRune(p, 0) {
		return "", fmt.Errorf("input %s: the path holds a NUL byte", name)
	}
	abs := p
	if !filepath.IsAbs(abs) {
		abs = filepath.Join(rc.dir, p)
	}
	abs = filepath.Clean(abs)
	rel, err := filepath.Rel(rc.j.dir, abs)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return "", fmt.Errorf("input %s: %s is not a file inside the job's directory %s", name, p, rc.j.dir)
	}
	return abs, nil
}
