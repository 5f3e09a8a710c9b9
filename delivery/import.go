package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/cairnhq/cairn/delivery/azureclassic"
	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/agentpool"
	"github.com/cairnhq/cairn/ent/deploymentgroup"
	"github.com/cairnhq/cairn/ent/group"
	"github.com/cairnhq/cairn/ent/releasedefinition"
	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/ent/securefile"
	"github.com/cairnhq/cairn/ent/tasktemplate"
	"github.com/cairnhq/cairn/ent/user"
	"github.com/cairnhq/cairn/ent/variablegroup"
	"github.com/cairnhq/cairn/internal/tasklib"
)

// ImportFormat names a format importDefinitions reads.
type ImportFormat string

// The import formats.
const (
	// ImportAzureClassic is Azure DevOps classic release definitions (package azureclassic).
	ImportAzureClassic ImportFormat = "AZURE_CLASSIC"
)

// ImportAction says whether an imported definition is new or a new revision.
type ImportAction string

// The import actions.
const (
	ImportCreate ImportAction = "CREATE"
	ImportUpdate ImportAction = "UPDATE"
)

// ImportInput is one call of ImportDefinitions.
type ImportInput struct {
	Format    ImportFormat
	Documents []string
	// DryRun (the default of the API) only reports.
	DryRun  bool
	Mapping azureclassic.Mapping
	Comment string
}

// ImportReport is what became of one imported definition.
type ImportReport struct {
	Document       int
	SourceID       int
	SourceRevision int
	SourceURL      string
	Name           string
	Action         ImportAction
	// Input is the definition document as JSON, secret values masked.
	Input string
	// Valid: no blocking finding.
	Valid bool
	// Definition is the created or updated definition (applied only).
	Definition *ent.ReleaseDefinition
	// ExistingDefinitionID is the definition an UPDATE changes (0 for CREATE).
	ExistingDefinitionID int
	Findings             []azureclassic.Finding
}

// ImportResult is the answer of ImportDefinitions.
type ImportResult struct {
	DryRun      bool
	Applied     bool
	Definitions []ImportReport
}

// errImportRefused rolls the import's transaction back when a definition is not valid;
// the caller gets the report, not an error.
var errImportRefused = errors.New("import refused: not every definition is valid")

// ImportDefinitions maps documents of another system (in.Format) to definition documents
// and reports, per definition, what maps and what does not (package azureclassic). With
// DryRun it writes nothing. Otherwise, in one transaction, it creates each definition
// through the ordinary create path, or, when a definition imported earlier came from the
// same source, writes a new revision of it through the ordinary update path, with the
// actor's permissions; when any definition has a blocking finding (NEEDS_INPUT, or a
// problem of Cairn's validation, reported as INVALID findings) nothing is written and
// Applied is false. Documents that cannot be read at all are INVALID_INPUT.
func (e *Engine) ImportDefinitions(ctx context.Context, actor Actor, in ImportInput) (*ImportResult, error) {
	if err := actor.Require(RoleEditor, "importing definitions"); err != nil {
		return nil, err
	}
	if in.Format != ImportAzureClassic {
		return nil, Invalid("format", "unknown import format %q; use AZURE_CLASSIC", in.Format)
	}
	if len(in.Documents) == 0 {
		return nil, Invalid("documents", "give at least one document")
	}
	if len(in.Comment) > maxComment {
		return nil, Invalid("comment", "is %d bytes long; at most %d are allowed", len(in.Comment), maxComment)
	}
	docs := make([][]byte, len(in.Documents))
	for i, d := range in.Documents {
		docs[i] = []byte(d)
	}
	out := &ImportResult{DryRun: in.DryRun}
	err := e.inTx(ctx, func(t *txn) error {
		out.Definitions = nil
		cat, err := t.importCatalog()
		if err != nil {
			return err
		}
		results, err := azureclassic.Import(docs, in.Mapping, cat)
		if err != nil {
			var de *azureclassic.DocumentError
			if errors.As(err, &de) {
				field := fmt.Sprintf("documents[%d]", de.Document)
				if de.Path != "" {
					field += "." + de.Path
				}
				return Invalid(field, "%s", de.Message)
			}
			return err
		}
		plans := make([]importPlan, len(results))
		valid := true
		names, keys := map[string]int{}, map[string]int{}
		for i := range results {
			p, err := t.planImport(actor, &results[i], in.Comment)
			if err != nil {
				return err
			}
			// Two documents of one import may not make the same definition.
			name := strings.ToLower(strings.TrimSpace(p.doc.Name))
			if j, dup := names[name]; dup {
				p.invalid("name", fmt.Sprintf("documents[%d] already imports a definition named %q", plans[j].report.Document, p.doc.Name))
			} else if j, dup := keys[p.key]; dup {
				p.invalid("id", fmt.Sprintf("documents[%d] already imports Azure definition %d", plans[j].report.Document, p.report.SourceID))
			}
			names[name], keys[p.key] = i, i
			plans[i] = p
			valid = valid && p.report.Valid
		}
		if in.DryRun || !valid {
			for _, p := range plans {
				out.Definitions = append(out.Definitions, p.report)
			}
			if in.DryRun {
				return nil
			}
			return errImportRefused
		}
		for _, p := range plans {
			def, err := t.applyImport(actor, p, in.Comment)
			if err != nil {
				return fmt.Errorf("importing %q (documents[%d]): %w", p.report.Name, p.report.Document, err)
			}
			p.report.Definition = def
			out.Definitions = append(out.Definitions, p.report)
		}
		out.Applied = true
		return nil
	})
	if errors.Is(err, errImportRefused) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("importing definitions: %w", err)
	}
	return out, nil
}

// importPlan is one definition to write: the document, and the definition it replaces.
type importPlan struct {
	report   ImportReport
	doc      spec.DefinitionSnapshot
	key      string
	existing *ent.ReleaseDefinition
}

// invalid adds an INVALID finding and marks the plan invalid.
func (p *importPlan) invalid(path, msg string) {
	p.report.Findings = append(p.report.Findings, azureclassic.Finding{Path: path, Status: azureclassic.Invalid, Message: msg})
	p.report.Valid = false
}

// importCatalog reads what the mapper needs to know of this server.
func (t *txn) importCatalog() (azureclassic.Catalog, error) {
	var cat azureclassic.Catalog
	cat.Templates = tasklib.Builtins()
	rows, err := t.TaskTemplate.Query().Order(ent.Asc(tasktemplate.FieldName), ent.Asc(tasktemplate.FieldMajor), ent.Asc(tasktemplate.FieldMinor)).All(t.ctx)
	if err != nil {
		return cat, fmt.Errorf("reading task templates: %w", err)
	}
	for _, r := range rows {
		cat.Templates = append(cat.Templates, r.Spec)
	}
	if cat.VariableGroups, err = t.VariableGroup.Query().Select(variablegroup.FieldName).Strings(t.ctx); err != nil {
		return cat, fmt.Errorf("reading variable groups: %w", err)
	}
	if cat.SecureFiles, err = t.SecureFile.Query().Select(securefile.FieldName).Strings(t.ctx); err != nil {
		return cat, fmt.Errorf("reading secure files: %w", err)
	}
	if cat.Users, err = t.User.Query().Select(user.FieldUsername).Strings(t.ctx); err != nil {
		return cat, fmt.Errorf("reading users: %w", err)
	}
	if cat.Groups, err = t.Group.Query().Select(group.FieldName).Strings(t.ctx); err != nil {
		return cat, fmt.Errorf("reading groups: %w", err)
	}
	if cat.Pools, err = t.AgentPool.Query().Select(agentpool.FieldName).Strings(t.ctx); err != nil {
		return cat, fmt.Errorf("reading agent pools: %w", err)
	}
	if cat.DeploymentGroups, err = t.DeploymentGroup.Query().Select(deploymentgroup.FieldName).Strings(t.ctx); err != nil {
		return cat, fmt.Errorf("reading deployment groups: %w", err)
	}
	conns, err := t.ServiceConnection.Query().All(t.ctx)
	if err != nil {
		return cat, fmt.Errorf("reading service connections: %w", err)
	}
	cat.Connections = map[string]string{}
	for _, c := range conns {
		cat.Connections[c.Name] = string(c.Kind)
	}
	return cat, nil
}

// planImport finds the definition a result updates, validates its document with the
// ordinary path's checks (read only), and turns every problem into an INVALID finding.
func (t *txn) planImport(actor Actor, r *azureclassic.Result, comment string) (importPlan, error) {
	p := importPlan{doc: r.Definition, key: r.Source.Key()}
	p.report = ImportReport{
		Document: r.Source.Document, SourceID: r.Source.ID, SourceRevision: r.Source.Revision,
		SourceURL: r.Source.URL, Name: r.Definition.Name, Action: ImportCreate,
		Findings: slices.Clone(r.Findings),
	}
	existing, err := t.ReleaseDefinition.Query().
		Where(releasedefinition.ImportSource(p.key), releasedefinition.DeletedAtIsNil()).
		Order(ent.Asc(releasedefinition.FieldID)).First(t.ctx)
	switch {
	case ent.IsNotFound(err):
	case err != nil:
		return p, fmt.Errorf("finding the definition imported from %s: %w", r.Source.URL, err)
	default:
		p.existing = existing
		p.report.Action = ImportUpdate
		p.report.ExistingDefinitionID = existing.ID
	}
	var prev *spec.DefinitionSnapshot
	if p.existing != nil {
		rev, err := t.latestRevision(p.existing.ID)
		if err != nil {
			return p, err
		}
		prev = &rev.Snapshot
		p.report.Findings = keptSecrets(p.report.Findings, r.Secrets, prev)
		// Readers and permission lists exist only in Cairn: a re-import keeps them.
		p.doc.Readers, p.doc.Permissions = prev.Readers, prev.Permissions
		p.doc.Environments = slices.Clone(p.doc.Environments)
		for i := range p.doc.Environments {
			if pe, ok := prev.Environment(p.doc.Environments[i].Name); ok {
				p.doc.Environments[i].Permissions = pe.Permissions
			}
		}
		if err := t.requireReadable(actor, p.existing.ID, NotFound("definition", p.existing.ID)); err != nil {
			return p, err
		}
	}
	// A release name format with tokens Cairn does not have would block the import for
	// something only cosmetic: releases are named by the default format instead.
	if f := strings.TrimSpace(p.doc.ReleaseNameFormat); f != "" {
		pn := &problems{}
		if validateNameFormat(pn, f); len(pn.list) > 0 {
			p.report.Findings = append(p.report.Findings, azureclassic.Finding{Path: "releaseNameFormat", Status: azureclassic.Approximated,
				Message: fmt.Sprintf("%q: %s; releases are named %s instead", f, pn.list[0].Message, DefaultReleaseNameFormat)})
			p.doc.ReleaseNameFormat = DefaultReleaseNameFormat
		}
	}
	// Variables whose names Cairn refuses (Azure's system.debug becomes SYSTEM_DEBUG, which
	// is Cairn's own) are left out rather than block the import.
	drop := func(field string, vars []spec.Variable) []spec.Variable {
		var kept []spec.Variable
		for _, v := range vars {
			if why := refusedVariableName(strings.TrimSpace(v.Name)); why != "" {
				p.report.Findings = append(p.report.Findings, azureclassic.Finding{Path: "cairn:" + field + "." + v.Name,
					Status: azureclassic.Dropped, Message: "variable left out: " + why})
				continue
			}
			kept = append(kept, v)
		}
		return kept
	}
	p.doc.Variables = drop("variables", p.doc.Variables)
	p.doc.Environments = slices.Clone(p.doc.Environments)
	for i := range p.doc.Environments {
		p.doc.Environments[i].Variables = drop(fmt.Sprintf("environments[%d].variables", i), p.doc.Environments[i].Variables)
	}
	if input, err := json.Marshal(MaskSecrets(p.doc)); err == nil {
		p.report.Input = string(input)
	} else {
		return p, fmt.Errorf("encoding the imported document: %w", err)
	}
	var authorize func(*spec.DefinitionSnapshot) error
	if p.existing != nil {
		id := p.existing.ID
		authorize = func(doc *spec.DefinitionSnapshot) error {
			return t.authorizeDefinitionChange(actor, id, prev, doc, NotFound("definition", id))
		}
	}
	_, _, verr := t.prepareDefinition(p.doc, prev, comment, authorize)
	if verr == nil && p.existing == nil {
		verr = t.requireNameFree(strings.TrimSpace(p.doc.Name), 0)
	} else if verr == nil && strings.TrimSpace(p.doc.Name) != p.existing.Name {
		verr = t.requireNameFree(strings.TrimSpace(p.doc.Name), p.existing.ID)
	}
	if verr != nil {
		var ve *ValidationError
		var de *Error
		switch {
		case errors.As(verr, &ve):
			for _, prob := range ve.Problems {
				p.report.Findings = append(p.report.Findings, azureclassic.Finding{
					Path: "cairn:" + prob.Field, Status: azureclassic.Invalid, Message: prob.Message,
				})
			}
		case errors.As(verr, &de) && (de.Code == CodeInvalidInput || de.Code == CodeConflict):
			p.report.Findings = append(p.report.Findings, azureclassic.Finding{
				Path: "cairn:" + de.Field, Status: azureclassic.Invalid, Message: de.Message,
			})
		default:
			return p, verr // FORBIDDEN, storage
		}
	}
	p.report.Valid = true
	for _, f := range p.report.Findings {
		if f.Status.Blocking() {
			p.report.Valid = false
		}
	}
	return p, nil
}

// keptSecrets turns the NEEDS_INPUT finding of a secret variable given without a value
// into MAPPED when the definition being updated already has that secret: the ordinary
// update path keeps the stored value.
func keptSecrets(findings []azureclassic.Finding, secrets []azureclassic.SecretRef, prev *spec.DefinitionSnapshot) []azureclassic.Finding {
	stored := func(vars []spec.Variable, name string) bool {
		return slices.ContainsFunc(vars, func(v spec.Variable) bool { return v.Secret && v.Name == name })
	}
	out := slices.Clone(findings)
	for _, s := range secrets {
		vars := prev.Variables
		if s.Environment != "" {
			pe, ok := prev.Environment(s.Environment)
			if !ok {
				continue
			}
			vars = pe.Variables
		}
		if s.Finding < len(out) && out[s.Finding].Status == azureclassic.NeedsInput && stored(vars, s.Variable) {
			out[s.Finding].Status = azureclassic.Mapped
			out[s.Finding].Message = "secret variable: keeps the value stored in the definition imported earlier"
		}
	}
	return out
}

// applyImport writes one planned definition through the ordinary create or update path
// and records where it came from.
func (t *txn) applyImport(actor Actor, p importPlan, comment string) (*ent.ReleaseDefinition, error) {
	if comment == "" {
		comment = fmt.Sprintf("imported from Azure DevOps definition %d revision %d", p.report.SourceID, p.report.SourceRevision)
	}
	var def *ent.ReleaseDefinition
	var err error
	if p.existing == nil {
		def, err = t.createDefinition(actor, p.doc, comment)
	} else {
		def, err = t.updateDefinition(actor, p.existing.ID, p.existing.Revision, p.doc, comment)
	}
	if err != nil {
		return nil, err
	}
	if def.ImportSource != p.key {
		if def, err = def.Update().SetImportSource(p.key).Save(t.ctx); err != nil {
			return nil, fmt.Errorf("recording the import source: %w", err)
		}
	}
	return def.Unwrap(), nil
}
