package graph

import (
	"time"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/graph/model"
)

// deref returns *p, or the zero value for nil (an omitted optional input).
func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// userInput maps the GraphQL input to the engine's.
func userInput(in model.NewUserInput) delivery.UserInput {
	u := delivery.UserInput{
		Username: in.Username, DisplayName: deref(in.DisplayName), Email: deref(in.Email),
		ExternalIdentities: in.ExternalIdentities,
	}
	if in.Role != nil {
		u.Role = delivery.Role(*in.Role)
	}
	return u
}

// userPatch maps the GraphQL patch to the engine's. A null or omitted list of
// external identities keeps it; an empty list clears it.
func userPatch(in model.UserPatchInput) delivery.UserPatch {
	p := delivery.UserPatch{DisplayName: in.DisplayName, Email: in.Email, Disabled: in.Disabled}
	if in.Role != nil {
		r := delivery.Role(*in.Role)
		p.Role = &r
	}
	if in.ExternalIdentities != nil {
		p.ExternalIdentities = &in.ExternalIdentities
	}
	return p
}

// chainReport maps the engine's report to the GraphQL type; brokenAt and
// problem are null when the chain holds.
func chainReport(rep delivery.ChainReport) *model.AuditChainReport {
	out := &model.AuditChainReport{Checked: rep.Checked, Ok: rep.OK, HeadSequence: rep.HeadSequence, LegacyUntil: rep.LegacyUntil}
	if !rep.OK {
		out.BrokenAt, out.Problem = &rep.BrokenAt, &rep.Problem
	}
	return out
}

// maxDays bounds a day count before it becomes a time.Duration: a hostile
// expiresInDays of two billion would overflow into a plausible lifetime. Any
// count past the bound is still past the engine's maximum, which rejects it.
const maxDays = 100_000

// days converts a day count to a duration without overflowing.
func days(n int) time.Duration {
	n = min(max(n, -maxDays), maxDays)
	return time.Duration(n) * 24 * time.Hour
}
