// Package hook holds what the CI integrations share: the neutral Build that
// a Jenkins notification or a Team Build service hook becomes, the request
// body reader with its size cap, the error kinds and the one function that
// maps them to HTTP status codes, the constant-time secret comparison, and
// Endpoint, the HTTP handler both webhooks run.
//
// The flow of a webhook (Endpoint.ServeHTTP):
//
//	conn := engine.ConnectionByName(name)                 // 404 when unknown
//	ok := adapter.Authenticate(r, user, webhookSecret)    // 401 when false
//	body, err := hook.ReadBody(r, hook.MaxBodyBytes)      // 413 on overflow, 408 when too slow
//	receipt, err := adapter.Receipt(ctx, body, conn)      // 400 on ErrMalformed / ErrInvalid, 202 on ErrIgnored
//	res, err := engine.ReceiveBuild(ctx, *receipt, ResultStatus) // idempotent on the build's key: 201 or 202
//
// Every authenticated request is recorded as a WebhookDelivery: rejected and
// ignored ones through Engine.RecordDelivery, builds by ReceiveBuild itself.
// The engine decides a result (ACCEPTED, IGNORED, REJECTED) and knows no
// HTTP: this package chooses every status (StatusCode for error kinds,
// ResultStatus for the engine's results) and hands it to the engine, which
// records it with the result in the same write.
// Requests that do not authenticate (404, 401) are answered and logged but
// write nothing, so that anyone on the network cannot fill the table.
//
// Packages under integrations import stdlib, net/http, go-playground/webhooks
// and delivery (its commands and types); they never write to ent. The engine
// is reached through the consumer-side Engine interface, which
// *delivery.Engine implements.
package hook
