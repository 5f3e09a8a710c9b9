package graph

import (
	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/graph/model"
)

// hookInput maps the GraphQL input to the engine's.
func hookInput(in model.NewOutgoingHookInput) delivery.HookInput {
	enabled := in.Enabled
	return delivery.HookInput{
		Name: in.Name, URL: in.URL, Secret: in.Secret, EventTypes: in.EventTypes,
		DefinitionID: in.DefinitionID, Slack: in.Slack, Enabled: &enabled,
	}
}

// hookPatch maps the GraphQL patch to the engine's. A null or omitted list of
// event types keeps it; an empty list means all types.
func hookPatch(in model.OutgoingHookPatchInput) delivery.HookPatch {
	p := delivery.HookPatch{
		Name: in.Name, URL: in.URL, Secret: in.Secret, DefinitionID: in.DefinitionID,
		ClearDefinition: deref(in.ClearDefinition), Slack: in.Slack, Enabled: in.Enabled,
	}
	if in.EventTypes != nil {
		p.EventTypes = &in.EventTypes
	}
	return p
}
