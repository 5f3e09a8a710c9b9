// Package teambuild reads Azure DevOps and TFS build events: the service
// hook "build.complete" (Parse, ReadEvent, Authenticate) and the build and
// work item REST API (Client) that enriches a release.
//
// The payload types of go-playground/webhooks/v6/azuredevops are used where
// they fit (the event type and its constant, messages, projects,
// identities, requests), but not its BuildCompleteEvent nor its
// Webhook.Parse: Parse reads the request itself, skips authentication when no
// credentials are set, compares Basic auth with ==, and ignores the event
// filter; its Build type lacks result, sourceBranch, sourceVersion, project,
// requestedFor and _links (the 2.0 shape) and its Date fails on null or
// zone-less dates ("0001-01-01T00:00:00" appears in real 2.0 payloads). So
// the envelope and the build resource are decoded into this package's own
// structs built from those types, the event type is checked here, and
// Authenticate compares in constant time.
//
// Both resource versions are read. 1.0 (TFS 2015 XAML and early vNext):
// resource.status is the outcome ("succeeded", "partiallySucceeded",
// "failed", "stopped"), the source is resource.sourceGetVersion
// ("LG:refs/heads/main:<sha>" for git, "C123" for TFVC), the requester is
// resource.requests[0].requestedFor and the project only an id. 2.0 (Azure
// DevOps): resource.status is "completed" and resource.result the outcome
// ("succeeded", "partiallySucceeded", "failed", "canceled"), with
// sourceBranch, sourceVersion, project and requestedFor. Nothing is read
// from publisherId or the human-readable messages.
package teambuild
