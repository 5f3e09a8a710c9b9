// Package jenkins reads what Jenkins sends and serves: the Notification
// plugin's webhook JSON (Parse, ReadNotification, Authenticate) and the
// build REST API (Client) that enriches a release with changes and picks the
// git BuildData of the right repository.
//
// Parsing is pure and apart from I/O: ReadNotification only reads the
// request body under the size cap; Parse turns bytes into a *Notification or
// a typed error (hook.ErrMalformed, hook.ErrInvalid, hook.ErrTooLarge), and
// (*Notification).ToBuild turns a completed build into the neutral hook.Build,
// or hook.ErrIgnored for the phases and results that create nothing.
//
// The Notification plugin (https://plugins.jenkins.io/notification/) posts
// one JSON document per phase of a build: QUEUED, STARTED, COMPLETED and
// FINALIZED. Its "status" (the build result) is absent before COMPLETED;
// empty fields are omitted; "url" fields are relative to the Jenkins root
// URL, so the absolute "full_url" is preferred.
package jenkins
