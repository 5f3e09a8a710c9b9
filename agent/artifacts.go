package agent

import (
	"archive/zip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/cairnhq/cairn/agentproto"
	"github.com/cairnhq/cairn/internal/origin"
)

// artifactLimits bound what one job may download and unpack.
type artifactLimits struct {
	maxBytes   int64 // total bytes written under a/ for the job, files and unpacked zips together
	maxEntries int   // entries per zip
}

// downloader fetches a job's artifacts into <job>/a/<alias>/.
type downloader struct {
	client *http.Client
	limits artifactLimits
	logf   func(format string, args ...any) // to the job log
	used   int64                            // bytes written so far
}

// errUnsafePath is returned for a zip entry or relative path that would land outside the
// artifact's directory.
var errUnsafePath = errors.New("unsafe path")

// download fetches one artifact into dir.
func (d *downloader) download(ctx context.Context, a agentproto.Artifact, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	switch a.Type {
	case agentproto.ArtifactJenkins:
		if a.Jenkins == nil {
			return errors.New("jenkins artifact without download description")
		}
		if a.Jenkins.BuildURL == "" {
			return fmt.Errorf("no URL is known for Jenkins build %s of artifact %s (was the release created without artifact checks and without a build URL?): give the release a buildUrl, or set skipArtifactDownload on the job", a.BuildNumber, a.Alias)
		}
		base := strings.TrimRight(a.Jenkins.BuildURL, "/") + "/artifact/"
		if a.Jenkins.WholeArchive {
			return d.fetchZip(ctx, base+"*zip*/archive.zip", a.Credentials, a.Origin, dir, "archive/")
		}
		for _, rel := range a.Jenkins.RelativePaths {
			if !localPath(rel) {
				return fmt.Errorf("relative path %q: %w", rel, errUnsafePath)
			}
			if err := d.fetchFile(ctx, base+escapePath(rel), a.Credentials, a.Origin, dir, rel); err != nil {
				return err
			}
		}
		return nil
	case agentproto.ArtifactTeamBuild:
		if a.TeamBuild == nil || a.TeamBuild.DownloadURL == "" {
			return errors.New("team build artifact without download URL")
		}
		return d.fetchZip(ctx, a.TeamBuild.DownloadURL, a.Credentials, a.Origin, dir, "")
	default:
		return fmt.Errorf("unknown artifact type %q", a.Type)
	}
}

// localPath reports whether a slash-separated path stays inside the directory it is joined to.
func localPath(p string) bool {
	return p != "" && !strings.Contains(p, `\`) && filepath.IsLocal(filepath.FromSlash(p))
}

// escapePath escapes each segment of a slash-separated path for a URL.
func escapePath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

// errForeignURL is returned for a download that would carry a service connection's credentials
// to a URL outside the connection's origin.
var errForeignURL = errors.New("not on the service connection's origin: its credentials are not sent there")

// get starts a GET of rawURL with basic auth and checks the status. Credentials go only to a
// URL of home's origin (the service connection's scheme, host and port), and never along a
// redirect to another origin.
func (d *downloader) get(ctx context.Context, rawURL string, cred *agentproto.Credentials, home string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, err
	}
	client := d.client
	if cred != nil {
		if !origin.Same(rawURL, home) {
			return nil, fmt.Errorf("GET %s: %w", redactURL(req.URL), errForeignURL)
		}
		req.SetBasicAuth(cred.Username, cred.Password)
		c := *d.client
		next := c.CheckRedirect
		c.CheckRedirect = func(r *http.Request, via []*http.Request) error {
			if !origin.Same(r.URL.String(), home) {
				return fmt.Errorf("redirect to %s: %w", redactURL(r.URL), errForeignURL)
			}
			if next != nil {
				return next(r, via)
			}
			if len(via) >= 10 {
				return errors.New("stopped after 10 redirects")
			}
			return nil
		}
		client = &c
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("GET %s: %s", redactURL(req.URL), resp.Status)
	}
	return resp, nil
}

// redactURL drops user info and the query (which may carry tokens) from a URL for logs.
func redactURL(u *url.URL) string {
	c := *u
	c.User, c.RawQuery = nil, ""
	return c.String()
}

// copyLimited copies r to w, failing when the job's byte budget is exceeded.
func (d *downloader) copyLimited(w io.Writer, r io.Reader) (int64, error) {
	left := d.limits.maxBytes - d.used
	n, err := io.Copy(w, io.LimitReader(r, left+1))
	d.used += n
	if err != nil {
		return n, err
	}
	if n > left {
		return n, fmt.Errorf("artifacts larger than the limit of %d bytes", d.limits.maxBytes)
	}
	return n, nil
}

// fetchFile downloads one file to dir/rel.
func (d *downloader) fetchFile(ctx context.Context, rawURL string, cred *agentproto.Credentials, home, dir, rel string) error {
	resp, err := d.get(ctx, rawURL, cred, home)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	if p := path.Dir(rel); p != "." {
		if err := root.MkdirAll(p, 0o755); err != nil {
			return err
		}
	}
	f, err := root.OpenFile(rel, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	n, err := d.copyLimited(f, resp.Body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("downloading %s: %w", rel, err)
	}
	d.logf("Downloaded %s (%d bytes)", rel, n)
	return nil
}

// fetchZip downloads a zip to a temporary file and unpacks it into dir, dropping stripPrefix from
// entry names that have it.
func (d *downloader) fetchZip(ctx context.Context, rawURL string, cred *agentproto.Credentials, home, dir, stripPrefix string) error {
	resp, err := d.get(ctx, rawURL, cred, home)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dir), ".download-*.zip")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	// The zip counts against the budget while downloaded; its content counts again when unpacked.
	budget := d.used
	n, err := d.copyLimited(tmp, resp.Body)
	if err != nil {
		return fmt.Errorf("downloading %s: %w", redactURL(resp.Request.URL), err)
	}
	d.used = budget
	d.logf("Downloaded %s (%d bytes)", redactURL(resp.Request.URL), n)
	files, err := d.unzip(tmp, n, dir, stripPrefix)
	if err != nil {
		return fmt.Errorf("unpacking %s: %w", redactURL(resp.Request.URL), err)
	}
	d.logf("Unpacked %d files", files)
	return nil
}

// unzip unpacks a zip into dir. Every entry name is checked before anything is written: an
// absolute name, a ".." element, a backslash or a symbolic link rejects the whole archive.
// Writing goes through an os.Root, so that nothing lands outside dir even through a symlink.
func (d *downloader) unzip(r io.ReaderAt, size int64, dir, stripPrefix string) (int, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return 0, err
	}
	if len(zr.File) > d.limits.maxEntries {
		return 0, fmt.Errorf("%d entries, more than the limit of %d", len(zr.File), d.limits.maxEntries)
	}
	names := make([]string, len(zr.File))
	for i, f := range zr.File {
		name := strings.TrimPrefix(f.Name, stripPrefix)
		if f.Mode()&fs.ModeSymlink != 0 {
			return 0, fmt.Errorf("entry %q is a symbolic link: %w", f.Name, errUnsafePath)
		}
		if strings.TrimSuffix(name, "/") == "" && f.FileInfo().IsDir() {
			continue // the stripped prefix itself
		}
		if !localPath(strings.TrimSuffix(name, "/")) {
			return 0, fmt.Errorf("entry %q: %w", f.Name, errUnsafePath)
		}
		names[i] = strings.TrimSuffix(name, "/")
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return 0, err
	}
	defer root.Close()
	files := 0
	for i, f := range zr.File {
		name := names[i]
		if name == "" {
			continue
		}
		if f.FileInfo().IsDir() {
			if err := root.MkdirAll(name, 0o755); err != nil {
				return files, err
			}
			continue
		}
		if p := path.Dir(name); p != "." {
			if err := root.MkdirAll(p, 0o755); err != nil {
				return files, err
			}
		}
		if err := d.unzipFile(root, f, name); err != nil {
			return files, fmt.Errorf("entry %q: %w", f.Name, err)
		}
		files++
	}
	return files, nil
}

func (d *downloader) unzipFile(root *os.Root, f *zip.File, name string) error {
	mode := os.FileMode(0o644)
	if f.Mode()&0o111 != 0 {
		mode = 0o755
	}
	rc, err := f.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	out, err := root.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	_, err = d.copyLimited(out, rc)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}
