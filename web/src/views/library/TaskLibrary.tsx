// The task library: built-in and custom task templates and task groups, with their typed
// inputs, steps and who uses them; ADMINs add, replace and delete custom versions.
import { useState, type FormEvent } from 'react';
import { APIError, mutate } from '../../api';
import { useLive } from '../../hooks';
import { useMayCall } from '../../may';
import { Link } from '../../router';
import { ErrorNote, Loading, Page } from '../../ui';
import { graphql } from '../../gql';
import type { TaskLibraryPageQuery, TaskTemplateInput } from '../../gql/graphql';
import { Filters, useParams, withParams, type FilterField } from '../../listing';
import { ConfirmButton, OtherError } from './common';

const templatesQuery = graphql(`query TaskLibraryPage {
  taskTemplates {
    name version major description category shell script runner demands builtin usedBy
    inputs { name type required default options help connectionKind replaces }
    steps { name uses inputs condition continueOnError }
  }
}`);
const createMutation = graphql(`mutation CreateTaskTemplateForm($input: TaskTemplateInput!) { createTaskTemplate(input: $input) { name version } }`);
const updateMutation = graphql(`mutation UpdateTaskTemplateForm($input: TaskTemplateInput!) { updateTaskTemplate(input: $input) { name version } }`);
const deleteMutation = graphql(`mutation DeleteTaskTemplateForm($name: String!, $version: String!) { deleteTaskTemplate(name: $name, version: $version) }`);

type Template = TaskLibraryPageQuery['taskTemplates'][number];

const kindOf = (t: Template) => (t.steps.length ? 'Task group' : t.runner ? `Built into the agent (${t.runner})` : `Script (${t.shell || 'bash'})`);

const filterFields: FilterField[] = [
  { name: 'q', label: 'Name or description', placeholder: 'e.g. copy' },
  { name: 'origin', label: 'Origin', kind: 'select', options: [{ value: 'builtin', label: 'Built-in' }, { value: 'custom', label: 'Custom' }] },
];

// asInput turns a template into the document create/update take.
function asInput(t: Template): TaskTemplateInput {
  return {
    name: t.name, version: t.version, description: t.description, category: t.category,
    inputs: t.inputs.map((i) => ({ name: i.name, type: i.type, required: i.required, default: i.default, options: i.options, help: i.help, ...(i.connectionKind ? { connectionKind: i.connectionKind } : {}), ...(i.replaces.length ? { replaces: i.replaces } : {}) })),
    demands: t.demands,
    ...(t.steps.length
      ? { steps: t.steps.map((s) => ({ name: s.name, uses: s.uses, inputs: s.inputs, condition: s.condition, continueOnError: s.continueOnError })) }
      : { shell: t.shell, script: t.script }),
  };
}

const blankTemplate: TaskTemplateInput = { name: 'MyTask', version: '1.0', description: '', category: 'Utility', inputs: [{ name: 'message', type: 'STRING', required: true, help: 'What to print' }], shell: 'bash', script: 'echo "$INPUT_MESSAGE"' };
const blankGroup: TaskTemplateInput = { name: 'MyGroup', version: '1.0', description: '', category: 'Utility', inputs: [{ name: 'target', type: 'STRING', required: true }], steps: [{ name: 'Say', uses: 'Bash@3', inputs: { targetType: 'inline', script: 'echo $(target)' } }] };

// TaskLibrary lists every version of every template, by name then version.
export function TaskLibrary() {
  const p = useParams();
  const q = useLive(templatesQuery, {}, () => false);
  const may = useMayCall('Mutation.createTaskTemplate', 'Mutation.updateTaskTemplate', 'Mutation.deleteTaskTemplate');
  const [editor, setEditor] = useState<{ mode: 'create' | 'update'; doc: TaskTemplateInput }>();
  const [note, setNote] = useState<string>();
  const [errors, setErrors] = useState<Record<string, APIError>>({});
  const text = (p.get('q') ?? '').toLowerCase();
  const origin = p.get('origin');
  const all = q.data?.taskTemplates ?? [];
  const list = all.filter((t) => (!text || `${t.name} ${t.description} ${t.category}`.toLowerCase().includes(text))
    && (origin !== 'builtin' || t.builtin) && (origin !== 'custom' || !t.builtin));
  const open = p.get('template');
  const key = (t: Template) => `${t.name}@${t.version}`;
  const shown = all.find((t) => key(t) === open);
  const remove = async (t: Template) => {
    setErrors(({ [key(t)]: _, ...rest }) => rest);
    try {
      await mutate(deleteMutation, { name: t.name, version: t.version });
      setNote(`${key(t)} deleted.`);
      q.reload();
    } catch (e) {
      setErrors((s) => ({ ...s, [key(t)]: e as APIError }));
    }
  };
  return (
    <Page title="Task library" actions={may?.has('Mutation.createTaskTemplate') && !editor ? (
      <span className="row-actions">
        <button type="button" onClick={() => { setEditor({ mode: 'create', doc: blankTemplate }); setNote(undefined); }}>New template</button>
        <button type="button" onClick={() => { setEditor({ mode: 'create', doc: blankGroup }); setNote(undefined); }}>New task group</button>
      </span>
    ) : undefined}>
      <p className="small">What a definition’s task can use, as Name@major with typed inputs; a release freezes the version it got. Built-ins ship in the server and cannot change.</p>
      {editor && <TemplateEditor key={JSON.stringify(editor)} mode={editor.mode} doc={editor.doc} onCancel={() => setEditor(undefined)} onDone={(m) => { setEditor(undefined); setNote(m); q.reload(); }} />}
      {note && <p role="status" data-note>{note}</p>}
      <Filters id="templates" fields={filterFields} />
      <ErrorNote error={q.error} />
      {shown && <Details t={shown} />}
      {q.loading && !q.data ? <Loading what="the task library" /> : list.length === 0 ? <p>No templates match.</p> : (
        <div className="scroll-x" role="region" aria-label="Task templates" tabIndex={0}>
          <table data-testid="templates">
            <thead><tr><th scope="col">Template</th><th scope="col">Kind</th><th scope="col">Inputs</th><th scope="col">Used by</th><th scope="col">Actions</th></tr></thead>
            <tbody>
              {list.map((t) => (
                <tr key={key(t)} data-template={key(t)}>
                  <th scope="row"><Link href={withParams(p, { template: key(t) })} aria-current={open === key(t) ? 'true' : undefined}>{t.name}@{t.version}</Link>
                    <div className="small">{t.category}{t.builtin ? ' · built-in' : ' · custom'}</div>
                    <div className="small">{t.description}</div></th>
                  <td>{kindOf(t)}</td>
                  <td>{t.inputs.map((i) => i.name + (i.required ? '*' : '')).join(', ') || '—'}</td>
                  <td>{t.usedBy.join(', ') || '—'}</td>
                  <td>
                    {!t.builtin && (
                      <div className="row-actions">
                        {may?.has('Mutation.updateTaskTemplate') && <button type="button" aria-label={`Edit ${key(t)}`} onClick={() => { setEditor({ mode: 'update', doc: asInput(t) }); setNote(undefined); }}>Edit</button>}
                        {may?.has('Mutation.createTaskTemplate') && <button type="button" aria-label={`New version of ${t.name}`} onClick={() => { setEditor({ mode: 'create', doc: { ...asInput(t), version: `${t.major}.${Number(t.version.split('.')[1] ?? 0) + 1}` } }); setNote(undefined); }}>New version</button>}
                        {may?.has('Mutation.deleteTaskTemplate') && <ConfirmButton label="Delete" what={key(t)} question={<>Delete <strong>{key(t)}</strong>? Releases keep the version they froze.</>} onConfirm={() => remove(t)} />}
                      </div>
                    )}
                    <ErrorNote error={errors[key(t)]} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Page>
  );
}

function Details({ t }: { t: Template }) {
  const p = useParams();
  return (
    <section className="card" aria-labelledby="template-title" data-details={`${t.name}@${t.version}`}>
      <header>
        <h2 id="template-title">{t.name}@{t.version}</h2>
        <Link href={withParams(p, { template: undefined })}>Close</Link>
      </header>
      <p>{t.description}</p>
      <dl className="facts">
        <dt>Kind</dt><dd>{kindOf(t)}</dd>
        <dt>Use as</dt><dd><code>{t.name}@{t.major}</code></dd>
        <dt>Demands</dt><dd>{t.demands.join(', ') || '—'}</dd>
        <dt>Used by</dt><dd>{t.usedBy.join(', ') || '—'}</dd>
      </dl>
      <h3>Inputs</h3>
      {t.inputs.length === 0 ? <p className="muted">No inputs.</p> : (
        <div className="scroll-x" role="region" aria-label={`Inputs of ${t.name}`} tabIndex={0}>
          <table data-testid="template-inputs">
            <thead><tr><th scope="col">Input</th><th scope="col">Type</th><th scope="col">Required</th><th scope="col">Default</th><th scope="col">Help</th></tr></thead>
            <tbody>
              {t.inputs.map((i) => (
                <tr key={i.name} data-input={i.name}>
                  <th scope="row"><code>{i.name}</code></th>
                  <td>{i.type}{i.options.length > 0 && <div className="small">{i.options.join(' | ')}</div>}{i.connectionKind && <div className="small">{i.connectionKind} connection</div>}{i.replaces.length > 0 && <div className="small">replaces {i.replaces.join(', ')}</div>}</td>
                  <td>{i.required ? 'yes' : 'no'}</td>
                  <td>{i.default ? <code>{i.default}</code> : '—'}</td>
                  <td>{i.help}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {t.steps.length > 0 && (
        <>
          <h3>Steps</h3>
          <ol>
            {t.steps.map((s, i) => <li key={i}><strong>{s.name}</strong>: <code>{s.uses}</code> {s.condition && <span className="small">when {s.condition}</span>}<pre className="doc">{JSON.stringify(s.inputs ?? {}, null, 2)}</pre></li>)}
          </ol>
        </>
      )}
      {t.script && (<><h3>Script</h3><pre className="doc">{t.script}</pre></>)}
    </section>
  );
}

// TemplateEditor edits a template or task group as the JSON document the API takes.
function TemplateEditor({ mode, doc, onDone, onCancel }: { mode: 'create' | 'update'; doc: TaskTemplateInput; onDone: (m: string) => void; onCancel: () => void }) {
  const [text, setText] = useState(() => JSON.stringify(doc, null, 2));
  const [error, setError] = useState<APIError>();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(undefined);
    let input: TaskTemplateInput;
    try {
      input = JSON.parse(text);
    } catch (err) {
      setError(new APIError(`not JSON: ${(err as Error).message}`, 'INVALID_INPUT', 0, 'document'));
      return;
    }
    try {
      if (mode === 'create') {
        const d = await mutate(createMutation, { input });
        onDone(`${d.createTaskTemplate.name}@${d.createTaskTemplate.version} added.`);
      } else {
        const d = await mutate(updateMutation, { input });
        onDone(`${d.updateTaskTemplate.name}@${d.updateTaskTemplate.version} replaced.`);
      }
    } catch (err) {
      // Every field of the input is in the document: the error goes beside it, naming its path.
      const e2 = err as APIError;
      setError(e2.field ? new APIError(`${e2.field}: ${e2.message}`, e2.code, e2.status, 'document') : e2);
    }
  };
  return (
    <form className="edit" onSubmit={submit} aria-labelledby="template-editor-title" data-form="template">
      <h2 id="template-editor-title">{mode === 'create' ? `Add ${doc.name}@${doc.version}` : `Replace ${doc.name}@${doc.version}`}</h2>
      <p className="small">The template as TaskTemplateInput (inputs: name, type STRING, MULTILINE, BOOLEAN, PICKLIST, SECRET, FILE_PATH or SERVICE_CONNECTION, required, default, options, help); a task group has steps instead of shell and script. Scripts read each input as INPUT_&lt;NAME&gt;.</p>
      <div className="field">
        <label htmlFor="template-doc">Document (JSON)</label>
        <textarea id="template-doc" autoFocus className="big" spellCheck={false} value={text} onChange={(e) => setText(e.target.value)}
          aria-invalid={error?.field === 'document' || undefined} aria-describedby={error?.field === 'document' ? 'template-doc-error' : undefined} />
        {error?.field === 'document' && <span className="error small" role="alert" id="template-doc-error">{error.message}</span>}
      </div>
      <OtherError error={error} fields={['document']} />
      <div className="row-actions">
        <button type="submit" className="primary">{mode === 'create' ? 'Add' : 'Replace'}</button>
        <button type="button" onClick={onCancel}>Cancel</button>
      </div>
    </form>
  );
}
