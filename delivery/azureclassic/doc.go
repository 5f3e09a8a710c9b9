// Package azureclassic reads Azure DevOps classic release definitions (the JSON of
// `GET {org}/{project}/_apis/release/definitions/{id}`, api-versions 2.0 to 7.1, one
// definition or a `{count, value}` list) and maps each to the document Cairn's ordinary
// create path takes (spec.DefinitionSnapshot), with a report: one finding per source path
// (`environments[2].deployPhases[0].workflowTasks[3]`) that says whether the construct was
// MAPPED, APPROXIMATED (and how), DROPPED (and why) or NEEDS_INPUT (a secret value, an
// identity, a service connection, a variable group, a task group).
//
// The mapping is a pure function (Import): no I/O, no database. What it needs to know of
// the Cairn side (the task catalogue, library group names, users, groups, connections)
// is passed in as a Catalog that the engine reads in its transaction; what a person
// decides (who an Azure identity is here, which connection an endpoint becomes) is a
// Mapping. The engine then validates and writes the document through its ordinary create
// or update path (package delivery, ImportDefinitions).
//
// Nothing is silently changed: a task without a Cairn equivalent becomes a disabled
// placeholder task that names the Azure task and its inputs; a condition Cairn cannot
// express makes the environment manual rather than deploy more often; each such
// decision is a finding.
//
// The places that will change as Cairn grows are each in one spot: tasks.go holds the
// task table (Azure task GUID and major version → Cairn task), phases.go the mapping of
// deploy phases onto the environment's phases, options.go the report of retention, email
// and badge options.
package azureclassic
