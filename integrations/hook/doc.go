// Package hook holds what the CI integrations share and what their consumer
// sees: the neutral Build that a Jenkins notification or a Team Build service
// hook becomes, the Sink interface a webhook handler delivers it to, the
// request body reader with its size cap, the error sentinels and the one
// function that maps them to HTTP status codes, and the constant-time secret
// comparison.
//
// The flow of a webhook, as the (not yet written) handler will run it:
//
//	body, err := hook.ReadBody(r, hook.MaxBodyBytes)       // 413 on overflow
//	ok := jenkins.Authenticate(r, user, pass, token)       // 401 when false
//	n, err := jenkins.Parse(body)                          // 400 on ErrMalformed / ErrInvalid
//	b, err := n.ToBuild(connection)                        // ErrIgnored: 202, recorded as IGNORED
//	err = sink.Deliver(ctx, hook.Delivery{...})            // idempotent on Delivery.Key
//	w.WriteHeader(hook.StatusCode(err))
//
// Packages under integrations import stdlib, net/http and
// go-playground/webhooks only; the domain (delivery) is reached through the
// consumer-side Sink interface so that nothing here needs the database.
package hook
