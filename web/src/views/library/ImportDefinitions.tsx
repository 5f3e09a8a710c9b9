// Import from Azure DevOps classic release pipelines: paste or upload the exported definitions,
// read the dry run's report (what maps, what is approximated or dropped, what needs a person),
// then import them all at once (nothing is written unless every one is valid).
import { useState, type FormEvent } from 'react';
import { APIError, mutate } from '../../api';
import { Link } from '../../router';
import { Page } from '../../ui';
import { graphql } from '../../gql';
import type { ImportDefinitionsFormMutation, ImportFindingStatus, ImportMappingInput } from '../../gql/graphql';
import { OtherError } from './common';

const importMutation = graphql(`mutation ImportDefinitionsForm($documents: [String!]!, $dryRun: Boolean, $mapping: ImportMappingInput, $comment: String) {
  importDefinitions(format: AZURE_CLASSIC, documents: $documents, dryRun: $dryRun, mapping: $mapping, comment: $comment) {
    dryRun applied
    definitions {
      document sourceId sourceRevision sourceUrl name action input valid existingDefinitionId
      definition { id name }
      findings { path status message }
    }
  }
}`);

type Payload = ImportDefinitionsFormMutation['importDefinitions'];
const statusOrder: ImportFindingStatus[] = ['INVALID', 'NEEDS_INPUT', 'DROPPED', 'APPROXIMATED', 'MAPPED'];
const statusClass: Record<ImportFindingStatus, string> = { INVALID: 'bad', NEEDS_INPUT: 'bad', DROPPED: 'warn', APPROXIMATED: 'wait', MAPPED: 'ok' };
const statusLabel: Record<ImportFindingStatus, string> = { INVALID: 'Invalid', NEEDS_INPUT: 'Needs input', DROPPED: 'Dropped', APPROXIMATED: 'Approximated', MAPPED: 'Mapped' };

// ImportDefinitions is the import page (EDITORs).
export function ImportDefinitions() {
  const [pasted, setPasted] = useState('');
  const [files, setFiles] = useState<{ name: string; text: string }[]>([]);
  const [mapping, setMapping] = useState('');
  const [comment, setComment] = useState('');
  const [error, setError] = useState<APIError>();
  const [report, setReport] = useState<Payload>();
  const [reportOf, setReportOf] = useState<string>();
  const [busy, setBusy] = useState(false);
  const documents = [...(pasted.trim() ? [pasted] : []), ...files.map((f) => f.text)];
  const key = JSON.stringify([documents, mapping]);

  const run = async (dryRun: boolean) => {
    setError(undefined);
    if (documents.length === 0) {
      setError(new APIError('paste an exported definition or choose a file', 'INVALID_INPUT', 0, 'documents'));
      return;
    }
    let map: ImportMappingInput | undefined;
    if (mapping.trim()) {
      try {
        map = JSON.parse(mapping);
      } catch (e) {
        setError(new APIError(`not JSON: ${(e as Error).message}`, 'INVALID_INPUT', 0, 'mapping'));
        return;
      }
    }
    setBusy(true);
    try {
      const d = await mutate(importMutation, { documents, dryRun, mapping: map, comment: comment || undefined });
      setReport(d.importDefinitions);
      setReportOf(key);
    } catch (e) {
      const err = e as APIError;
      // Errors about a document or the mapping name documents[i] or mapping.x.
      const field = err.field?.startsWith('documents') ? 'documents' : err.field?.startsWith('mapping') ? 'mapping' : err.field;
      setError(new APIError(err.message, err.code, err.status, field));
      setReport(undefined);
    } finally {
      setBusy(false);
    }
  };
  const submit = (e: FormEvent) => {
    e.preventDefault();
    run(true);
  };
  const readFiles = async (list: FileList | null) => {
    setFiles(await Promise.all([...(list ?? [])].map(async (f) => ({ name: f.name, text: await f.text() }))));
  };
  const current = report && reportOf === key;
  const allValid = !!report && report.definitions.length > 0 && report.definitions.every((d) => d.valid);

  const fieldErr = (f: string, id: string) => error?.field === f && <span className="error small" role="alert" id={`${id}-error`}>{error.message}</span>;
  const aria = (f: string, id: string) => ({ 'aria-invalid': error?.field === f || undefined, 'aria-describedby': error?.field === f ? `${id}-error` : undefined });
  return (
    <Page title="Import from Azure DevOps">
      <p className="small">Azure DevOps classic release definitions as its REST API returns them (<code>GET …/_apis/release/definitions/&#123;id&#125;</code>: one definition or a <code>&#123;count, value&#125;</code> list). A dry run reports what each part becomes; the import creates the definitions (or a new revision of one imported before), all or none. See docs/import.md.</p>
      <form className="edit" onSubmit={submit} aria-label="Definitions to import" data-form="import">
        <div className="field">
          <label htmlFor="import-paste">Exported definition (JSON)</label>
          <textarea id="import-paste" className="big" spellCheck={false} value={pasted} onChange={(e) => setPasted(e.target.value)} {...aria('documents', 'import-paste')} />
          {fieldErr('documents', 'import-paste')}
        </div>
        <div className="field">
          <label htmlFor="import-files">Or files (one document each)</label>
          <input id="import-files" type="file" accept=".json,application/json" multiple onChange={(e) => readFiles(e.target.files)} />
          {files.length > 0 && <span className="small">{files.map((f) => f.name).join(', ')}</span>}
        </div>
        <div className="field">
          <label htmlFor="import-mapping">Mapping (optional JSON: identities, serviceConnections, variableGroups, taskGroups, secretValues, agentPools, deploymentGroups)</label>
          <textarea id="import-mapping" rows={4} spellCheck={false} value={mapping} placeholder='{"serviceConnections": [{"azure": "my-endpoint", "connection": "ci"}]}'
            onChange={(e) => setMapping(e.target.value)} {...aria('mapping', 'import-mapping')} />
          {fieldErr('mapping', 'import-mapping')}
        </div>
        <div className="field">
          <label htmlFor="import-comment">Comment</label>
          <input id="import-comment" value={comment} onChange={(e) => setComment(e.target.value)} {...aria('comment', 'import-comment')} />
          {fieldErr('comment', 'import-comment')}
        </div>
        <OtherError error={error} fields={['documents', 'mapping', 'comment']} />
        <div className="row-actions">
          <button type="submit" disabled={busy}>{busy ? 'Working…' : 'Dry run'}</button>
          {current && report.dryRun && (
            <button type="button" className="primary" disabled={busy || !allValid} onClick={() => run(false)} aria-describedby="import-why">
              Import {report.definitions.length === 1 ? 'the definition' : `${report.definitions.length} definitions`}
            </button>
          )}
        </div>
        {current && report.dryRun && !allValid && <p className="small" id="import-why">Import is possible once no definition has an invalid part or a part that needs input (give it in the mapping).</p>}
      </form>
      {report && <Report report={report} stale={!current} />}
    </Page>
  );
}

function Report({ report, stale }: { report: Payload; stale: boolean }) {
  return (
    <section aria-labelledby="report-title" data-report={report.dryRun ? 'dry-run' : 'import'} data-applied={report.applied}>
      <h2 id="report-title">{report.dryRun ? 'Dry run' : report.applied ? 'Imported' : 'Not imported'}</h2>
      {stale && <p className="small">The documents or mapping changed since: run it again.</p>}
      <p role="status">
        {report.dryRun ? `Nothing was written. ${report.definitions.filter((d) => d.valid).length} of ${report.definitions.length} can be imported.`
          : report.applied ? `${report.definitions.length} imported.` : 'Nothing was written: a definition is not valid.'}
      </p>
      {report.definitions.map((d) => {
        const counts = statusOrder.map((s) => [s, d.findings.filter((f) => f.status === s).length] as const).filter(([, n]) => n > 0);
        return (
          <article key={`${d.document}-${d.sourceId}`} className="card" data-imported={d.name} data-valid={d.valid} aria-labelledby={`import-${d.document}-${d.sourceId}`}>
            <header>
              <h3 id={`import-${d.document}-${d.sourceId}`}>{d.name}</h3>
              <span className={`pill ${d.valid ? 'ok' : 'bad'}`}>{d.valid ? 'Can be imported' : 'Blocked'}</span>
            </header>
            <p className="small">
              {d.action === 'CREATE' ? 'A new definition' : <>A new revision of <Link href={`/definitions/${d.existingDefinitionId}`}>the definition imported before</Link></>}
              {' '}from Azure definition {d.sourceId} (revision {d.sourceRevision}), document {d.document + 1}.
              {d.definition && <> Now <Link href={`/definitions/${d.definition.id}`}>{d.definition.name}</Link>.</>}
            </p>
            <p className="small">{counts.map(([s, n]) => `${n} ${statusLabel[s].toLowerCase()}`).join(' · ')}</p>
            <div className="scroll-x" role="region" aria-label={`Findings of ${d.name}`} tabIndex={0}>
              <table data-testid="findings">
                <thead><tr><th scope="col">Where</th><th scope="col">Result</th><th scope="col">What</th></tr></thead>
                <tbody>
                  {[...d.findings].sort((a, b) => statusOrder.indexOf(a.status) - statusOrder.indexOf(b.status)).map((f, i) => (
                    <tr key={i} data-finding={f.status} data-path={f.path}>
                      <td><code>{f.path}</code></td>
                      <td><span className={`pill ${statusClass[f.status]}`}>{statusLabel[f.status]}</span></td>
                      <td>{f.message}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            <details>
              <summary>The Cairn definition it makes</summary>
              <pre className="doc">{pretty(d.input)}</pre>
            </details>
          </article>
        );
      })}
    </section>
  );
}

function pretty(s: string): string {
  try {
    return JSON.stringify(JSON.parse(s), null, 2);
  } catch {
    return s;
  }
}
