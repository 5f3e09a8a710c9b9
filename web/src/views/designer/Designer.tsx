// The definition designer: create a definition, or edit one, as a form or as its JSON
// document. Saving shows what changes against the current revision and asks for a comment;
// the server's INVALID_INPUT problems appear beside the fields they name; a save that
// another person's save overtook (CONFLICT on the expected revision) shows both changes and
// lets the person re-apply theirs on the new revision.
import { useEffect, useMemo, useState } from 'react';
import { api, query, APIError } from '../../api';
import { graphql } from '../../gql';
import type { DesignerSnapshotFragment } from '../../gql/graphql';
import { useMayCall } from '../../may';
import { Link, navigate } from '../../router';
import { ErrorNote, Loading, Page, edges } from '../../ui';
import { Artifacts } from './Artifacts';
import { EnvironmentEditor, Groups, Variables } from './Environment';
import { Approvers } from './parts';
import { EnvironmentGraph } from './Graph';
import { Check, Fieldset, List, Problems, Text, type Problem } from './fields';
import type { DefinitionPermissionsInput, ScheduleInput } from '../../gql/graphql';
import { blankDoc, blankEnvironment, clean, diff, fieldId, fromSnapshot, merge, type Change, type Doc, type Env } from './model';
import { newest, type Connection } from './Tasks';
import './designer.css';

graphql(`fragment DesignerSnapshot on DefinitionSnapshot {
  name description releaseNameFormat path tags disabled readers variableGroups
  variables { name value secret settableAtReleaseTime }
  artifactSources { alias type connection job project repositoryUrl primary continuousDeployment branchFilters allowPartial }
  schedules { cron timeZone scheduleOnlyWithChanges }
  permissions {
    editDefinition { kind name } createReleases { kind name } manageDeployments { kind name }
    manageApprovals { kind name } overrideArtifactChecks { kind name } managePermissions { kind name }
  }
  environments {
    name owner variableGroups
    trigger { kind environments allowPartiallySucceeded }
    preApproval { ...DesignerApproval }
    postApproval { ...DesignerApproval }
    preGates { ...DesignerGates }
    postGates { ...DesignerGates }
    job { demands timeoutMinutes skipArtifactDownload secureFiles tasks { ...DesignerTask } }
    phases { kind name condition timeoutMinutes pool demands skipArtifactDownload secureFiles deploymentGroup tags maxParallel failureThreshold offlineTargets tasks { ...DesignerTask } }
    queue { maxParallel mode }
    variables { name value secret settableAtReleaseTime }
    permissions { editEnvironment { kind name } manageDeployments { kind name } manageApprovals { kind name } }
    retention { daysToKeep releasesToKeep retainBuild }
  }
}`);
graphql(`fragment DesignerApproval on ApprovalPolicy {
  approvers { kind name } mode requiredCount requesterCannotApprove timeoutMinutes skipIfApprovedInPreviousEnvironment
}`);
graphql(`fragment DesignerGates on GatePolicy {
  order delayMinutes intervalMinutes timeoutMinutes minimumSuccessMinutes
  gates { name kind http { method url headers { name value } body successCriteria timeoutSeconds } workItems { types states tags maxCount } }
}`);
graphql(`fragment DesignerTask on Task {
  name kind shell script workingDirectory env timeoutMinutes continueOnError disabled instructions
  approvers { kind name } onTimeout condition uses inputs
  http { method url headers { name value } body successCriteria timeoutSeconds }
}`);

const definitionQuery = graphql(`query DesignerDefinition($id: ID!) {
  definition(id: $id) {
    id name revision viewerCan { editDefinition }
    revisions(first: 1, orderBy: {field: REVISION, direction: DESC}) {
      edges { node { revision author comment snapshot { ...DesignerSnapshot } } }
    }
  }
}`);
const catalogueQuery = graphql(`query DesignerCatalogue {
  taskTemplates { name version major description category inputs { name type required default options help connectionKind replaces } }
  variableGroups { id name }
}`);
const connectionsQuery = graphql(`query DesignerConnections { serviceConnections(first: 100) { edges { node { id name kind } } } }`);
const createMutation = graphql(`mutation DesignerCreate($input: DefinitionInput!, $comment: String) { createDefinition(input: $input, comment: $comment) { id revision } }`);
const updateMutation = graphql(`mutation DesignerUpdate($id: ID!, $rev: Int!, $input: DefinitionInput!, $comment: String) {
  updateDefinition(id: $id, expectedRevision: $rev, input: $input, comment: $comment) { id revision }
}`);

type Base = { doc: Doc; revision: number; author: string; comment: string };
type Conflict = { theirs: Base };

async function latest(id: string): Promise<{ base: Base; name: string; mayEdit: boolean } | null> {
  const d = await query(definitionQuery, { id });
  const def = d.definition;
  const node = edges(def?.revisions)[0];
  if (!def || !node) return null;
  return { base: { doc: fromSnapshot(node.snapshot as DesignerSnapshotFragment), revision: node.revision, author: node.author, comment: node.comment }, name: def.name, mayEdit: def.viewerCan.editDefinition };
}

// problemsOf reads INVALID_INPUT's problems (every one, with its field) from an error.
function saveError(err: import('@urql/core').CombinedError): { error: APIError; problems: Problem[] } {
  const g = err.graphQLErrors[0];
  if (!g) return { error: new APIError(err.networkError?.message ?? err.message, 'NETWORK'), problems: [] };
  const code = String(g.extensions?.code ?? 'ERROR');
  const field = typeof g.extensions?.field === 'string' ? g.extensions.field : undefined;
  const list = Array.isArray(g.extensions?.problems) ? (g.extensions.problems as Problem[]) : field ? [{ field, message: g.message.replace(`${field}: `, '') }] : [];
  return { error: new APIError(g.message, code, 0, field), problems: list };
}

export function Designer({ id }: { id?: string }) {
  const may = useMayCall('Mutation.createDefinition', 'Mutation.updateDefinition', 'Query.serviceConnections');
  const [doc, setDoc] = useState<Doc | null>(id ? null : blankDoc());
  const [base, setBase] = useState<Base | null>(null);
  const [title, setTitle] = useState(id ? 'Edit definition' : 'New definition');
  const [mayEdit, setMayEdit] = useState(true);
  const [loadError, setLoadError] = useState<Error | null>(null);
  const [templates, setTemplates] = useState<import('./Tasks').Template[]>([]);
  const [groups, setGroups] = useState<string[]>([]);
  const [connections, setConnections] = useState<Connection[]>([]);
  const [selected, setSelected] = useState(0);
  const [view, setView] = useState<'form' | 'json'>('form');
  const [problems, setProblems] = useState<Problem[]>([]);
  const [error, setError] = useState<APIError | null>(null);
  const [review, setReview] = useState<{ changes: Change[]; conflicts?: string[] } | null>(null);
  const [conflict, setConflict] = useState<Conflict | null>(null);
  const [comment, setComment] = useState('');
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    query(catalogueQuery).then((d) => {
      setTemplates(d.taskTemplates);
      setGroups(d.variableGroups.map((g) => g.name));
    }, setLoadError);
  }, []);
  useEffect(() => {
    if (!may?.has('Query.serviceConnections')) return;
    query(connectionsQuery).then((d) => setConnections(edges(d.serviceConnections).map((c) => ({ name: c.name, kind: c.kind }))), setLoadError);
  }, [may]);
  useEffect(() => {
    if (!id) return;
    latest(id).then((l) => {
      if (!l) {
        setLoadError(new Error('No such definition.'));
        return;
      }
      setBase(l.base);
      setDoc(l.base.doc);
      setTitle(`Edit ${l.name}`);
      setMayEdit(l.mayEdit);
    }, setLoadError);
  }, [id]);

  const catalogue = useMemo(() => newest(templates), [templates]);
  if (loadError) return <Page title={title}><ErrorNote error={loadError} /></Page>;
  if (!doc || !may) return <Page title={title}><Loading what="the definition" /></Page>;
  if (id ? !mayEdit || !may.has('Mutation.updateDefinition') : !may.has('Mutation.createDefinition')) {
    return <Page title={title}><p>You may not {id ? 'edit this definition' : 'create definitions'}.</p></Page>;
  }

  const envs = doc.environments;
  const sel = Math.min(selected, envs.length - 1);
  const update = (f: (d: Doc) => void) => setDoc((prev) => {
    const next = structuredClone(prev!);
    f(next);
    return next;
  });
  const setEnv = (i: number, e: Env) => update((d) => {
    const old = d.environments[i].name;
    d.environments[i] = e;
    if (old !== e.name && old) {
      for (const other of d.environments) {
        if (other.trigger?.environments) other.trigger.environments = other.trigger.environments.map((n) => (n === old ? e.name : n));
      }
    }
  });
  const addEnv = () => {
    const names = new Set(envs.map((e) => e.name));
    let n = envs.length + 1;
    while (names.has(`environment-${n}`)) n++;
    update((d) => d.environments.push(blankEnvironment(`environment-${n}`, envs[sel]?.name)));
    setSelected(envs.length);
  };
  const removeEnv = () => {
    const gone = envs[sel].name;
    update((d) => {
      d.environments.splice(sel, 1);
      for (const e of d.environments) {
        if (e.trigger?.kind === 'AFTER_ENVIRONMENTS') {
          e.trigger.environments = (e.trigger.environments ?? []).filter((n) => n !== gone);
          if (e.trigger.environments.length === 0) e.trigger = { kind: 'MANUAL' };
        }
      }
    });
    setSelected(Math.max(0, sel - 1));
  };
  const moveEnv = (d: number) => {
    const j = sel + d;
    if (j < 0 || j >= envs.length) return;
    update((x) => {
      [x.environments[sel], x.environments[j]] = [x.environments[j], x.environments[sel]];
    });
    setSelected(j);
  };

  const openReview = () => {
    setError(null);
    setReview({ changes: diff(base?.doc ?? null, doc) });
  };

  const save = async () => {
    setBusy(true);
    setError(null);
    const input = clean(doc);
    const res = id && base
      ? await api().mutation(updateMutation, { id, rev: base.revision, input, comment: comment || undefined }).toPromise()
      : await api().mutation(createMutation, { input, comment: comment || undefined }).toPromise();
    setBusy(false);
    if (!res.error && res.data) {
      const saved = 'updateDefinition' in res.data ? res.data.updateDefinition : (res.data as { createDefinition: { id: string } }).createDefinition;
      setProblems([]);
      navigate(`/definitions/${saved.id}`);
      return;
    }
    const { error: e, problems: ps } = saveError(res.error!);
    setReview(null);
    if (e.code === 'CONFLICT' && id) {
      const l = await latest(id).catch(() => null);
      if (l && base && l.base.revision !== base.revision) {
        setConflict({ theirs: l.base });
        return;
      }
    }
    setError(e);
    setProblems(ps);
    // Show the environment the first problem names, so that its field is on screen.
    const m = ps.map((p) => /^environments\[(\d+)\]/.exec(p.field)).find(Boolean);
    if (m && !ps.some((p) => p.field.startsWith(`environments[${sel}]`))) setSelected(Number(m[1]));
  };

  const reapply = () => {
    if (!conflict || !base) return;
    const conflicts: string[] = [];
    const merged = merge(clean(base.doc), clean(doc), clean(conflict.theirs.doc), '', conflicts) as Doc;
    setDoc(merged);
    setBase(conflict.theirs);
    setConflict(null);
    setReview({ changes: diff(conflict.theirs.doc, merged), conflicts });
  };

  return (
    <Page title={title} actions={id ? <Link href={`/definitions/${id}`}>Back to the definition</Link> : <Link href="/">Back to the overview</Link>}>
      <Problems.Provider value={problems}>
        <div className="designer" data-designer={id ?? 'new'}>
          <div className="designer-bar">
            <div role="tablist" aria-label="Designer view">
              <button type="button" role="tab" aria-selected={view === 'form'} onClick={() => setView('form')}>Form</button>
              <button type="button" role="tab" aria-selected={view === 'json'} onClick={() => setView('json')}>JSON</button>
            </div>
            {base && <span className="small">Editing revision {base.revision}</span>}
            <button type="button" className="primary" onClick={openReview} disabled={busy || !!review || !!conflict}>Save…</button>
          </div>
          {problems.length === 0 && <ErrorNote error={error} />}
          {problems.length > 0 && <ProblemList problems={problems} envs={envs} onSelect={(i) => { setView('form'); setSelected(i); }} />}
          {conflict && base && <ConflictPanel base={base} mine={doc} theirs={conflict.theirs} onReapply={reapply} onDiscard={() => { setBase(conflict.theirs); setDoc(conflict.theirs.doc); setConflict(null); }} />}
          {review && (
            <section className="review" aria-labelledby="review-title" data-review>
              <h2 id="review-title">{base ? `Changes against revision ${base.revision}` : 'The new definition'}</h2>
              {review.conflicts && review.conflicts.length > 0 && (
                <p className="waiting">Both of you changed {review.conflicts.map((c) => <code key={c}>{c} </code>)}: your value is kept; check it.</p>
              )}
              <ChangeTable changes={review.changes} caption="Changes to save" />
              <label htmlFor="save-comment">Comment (why this change)</label>
              <textarea id="save-comment" rows={2} value={comment} onChange={(e) => setComment(e.target.value)} />
              <div className="buttons">
                <button type="button" className="primary" onClick={save} disabled={busy || (!!base && review.changes.length === 0)}>Save revision</button>
                <button type="button" onClick={() => setReview(null)}>Keep editing</button>
              </div>
            </section>
          )}
          {view === 'json' ? <JsonView doc={doc} onApply={(d) => { setDoc(d); setView('form'); }} /> : (
            <>
              <section aria-labelledby="general-title" className="designer-section">
                <h2 id="general-title">General</h2>
                <div className="row">
                  <Text path="name" label="Definition name" value={doc.name} onChange={(v) => update((d) => { d.name = v; })} required />
                  <Text path="releaseNameFormat" label="Release name format" placeholder="Release-$(rev:r)" value={doc.releaseNameFormat} onChange={(v) => update((d) => { d.releaseNameFormat = v; })} />
                  <Text path="path" label="Folder" placeholder="/" value={doc.path} onChange={(v) => update((d) => { d.path = v; })} />
                  <List path="tags" label="Tags" value={doc.tags} onChange={(v) => update((d) => { d.tags = v; })} />
                  <Check path="disabled" label="Disabled (refuses new releases)" value={doc.disabled} onChange={(v) => update((d) => { d.disabled = v; })} />
                </div>
                <Text path="description" label="Description" multiline value={doc.description} onChange={(v) => update((d) => { d.description = v; })} />
                <Variables path="variables" value={doc.variables ?? []} onChange={(v) => update((d) => { d.variables = v; })} />
                <Groups path="variableGroups" all={groups} value={doc.variableGroups ?? []} onChange={(v) => update((d) => { d.variableGroups = v; })} />
                <Schedules value={doc.schedules ?? []} onChange={(v) => update((d) => { d.schedules = v; })} />
                <Fieldset legend="Access">
                  <List path="readers" label="Reader groups" hint="comma-separated; empty: every viewer" value={doc.readers} onChange={(v) => update((d) => { d.readers = v; })} />
                  {permissionLists.map(([key, label]) => (
                    <Approvers key={key} path={`permissions.${key}`} label={label} value={doc.permissions?.[key] ?? []}
                      onChange={(v) => update((d) => { d.permissions = { ...d.permissions, [key]: v }; })} />
                  ))}
                </Fieldset>
              </section>
              <Artifacts sources={doc.artifactSources ?? []} connections={connections} onChange={(s) => update((d) => { d.artifactSources = s; })} />
              <section aria-labelledby="envs-title" className="designer-section">
                <h2 id="envs-title">Environments</h2>
                <EnvironmentGraph envs={envs} selected={sel} onSelect={setSelected} />
                <div className="buttons">
                  <button type="button" onClick={addEnv}>Add environment</button>
                  <button type="button" onClick={() => moveEnv(-1)} disabled={sel <= 0}>Move {envs[sel]?.name} earlier</button>
                  <button type="button" onClick={() => moveEnv(1)} disabled={sel >= envs.length - 1}>Move {envs[sel]?.name} later</button>
                  <button type="button" className="danger" onClick={removeEnv} disabled={envs.length <= 1}>Remove {envs[sel]?.name}</button>
                </div>
                {envs[sel] && (
                  <EnvironmentEditor key={sel} env={envs[sel]} index={sel} names={envs.map((e) => e.name)} catalogue={catalogue} connections={connections}
                    groups={groups} definitionId={id} onChange={(e) => setEnv(sel, e)} />
                )}
              </section>
            </>
          )}
        </div>
      </Problems.Provider>
    </Page>
  );
}

const permissionLists: [keyof DefinitionPermissionsInput, string][] = [
  ['editDefinition', 'Edit the definition'], ['createReleases', 'Create releases'], ['manageDeployments', 'Deploy and cancel'],
  ['manageApprovals', 'Reassign approvals'], ['overrideArtifactChecks', 'Override artifact checks'], ['managePermissions', 'Manage permissions'],
];

function Schedules({ value, onChange }: { value: ScheduleInput[]; onChange: (v: ScheduleInput[]) => void }) {
  const set = (i: number, s: ScheduleInput) => onChange(value.map((x, j) => (j === i ? s : x)));
  return (
    <Fieldset legend="Schedules">
      {value.length === 0 && <p className="small">No schedules.</p>}
      {value.map((s, i) => (
        <div className="row" key={i}>
          <Text path={`schedules[${i}].cron`} label="Cron" placeholder="0 3 * * 1-5" value={s.cron} onChange={(v) => set(i, { ...s, cron: v })} />
          <Text path={`schedules[${i}].timeZone`} label="Time zone" placeholder="UTC" value={s.timeZone} onChange={(v) => set(i, { ...s, timeZone: v })} />
          <Check path={`schedules[${i}].scheduleOnlyWithChanges`} label="Only with newer builds" value={s.scheduleOnlyWithChanges} onChange={(v) => set(i, { ...s, scheduleOnlyWithChanges: v })} />
          <button type="button" className="danger" onClick={() => onChange(value.filter((_, j) => j !== i))} aria-label={`Remove schedule ${s.cron}`}>Remove</button>
        </div>
      ))}
      <button type="button" onClick={() => onChange([...value, { cron: '' }])}>Add schedule</button>
    </Fieldset>
  );
}

function ProblemList({ problems, envs, onSelect }: { problems: Problem[]; envs: Env[]; onSelect: (i: number) => void }) {
  return (
    <div className="problems" role="alert" data-problems={problems.length}>
      <p><strong>{problems.length === 1 ? 'One problem' : `${problems.length} problems`} to fix before saving:</strong></p>
      <ul>
        {problems.map((p, i) => {
          const m = /^environments\[(\d+)\]/.exec(p.field);
          return (
            <li key={i}>
              {m ? <button type="button" className="linkish" onClick={() => { onSelect(Number(m[1])); setTimeout(() => document.getElementById(fieldId(p.field))?.focus(), 0); }}>
                {envs[Number(m[1])]?.name ?? p.field}: <code>{p.field.replace(/^environments\[\d+\]\.?/, '')}</code>
              </button> : <a href={`#${fieldId(p.field)}`}><code>{p.field}</code></a>} — {p.message}
            </li>
          );
        })}
      </ul>
    </div>
  );
}

function ChangeTable({ changes, caption }: { changes: Change[]; caption: string }) {
  if (changes.length === 0) return <p>No differences.</p>;
  return (
    <div className="scroll-x" role="region" aria-label={caption} tabIndex={0}>
      <table className="diff">
        <caption className="sr-only">{caption}</caption>
        <thead><tr><th scope="col">Field</th><th scope="col">Before</th><th scope="col">After</th></tr></thead>
        <tbody>
          {changes.map((c) => (
            <tr key={c.path} className={c.kind.toLowerCase()} data-path={c.path}>
              <td><code>{c.path}</code> <span className="small">({c.kind.toLowerCase()})</span></td>
              <td><del>{c.before ?? ''}</del></td>
              <td><ins>{c.after ?? ''}</ins></td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function ConflictPanel({ base, mine, theirs, onReapply, onDiscard }: { base: Base; mine: Doc; theirs: Base; onReapply: () => void; onDiscard: () => void }) {
  return (
    <section className="conflict" aria-labelledby="conflict-title" data-conflict={theirs.revision}>
      <h2 id="conflict-title">Revision {theirs.revision} was saved while you edited</h2>
      <p>{theirs.author} saved revision {theirs.revision}{theirs.comment ? <> (“{theirs.comment}”)</> : null} after the revision {base.revision} you started from. Nothing of yours was saved.</p>
      <div className="side-by-side">
        <div>
          <h3>Their changes</h3>
          <ChangeTable changes={diff(base.doc, theirs.doc)} caption={`Changes of revision ${theirs.revision}`} />
        </div>
        <div>
          <h3>Your changes</h3>
          <ChangeTable changes={diff(base.doc, mine)} caption="Your changes" />
        </div>
      </div>
      <div className="buttons">
        <button type="button" className="primary" onClick={onReapply}>Re-apply my changes on revision {theirs.revision}</button>
        <button type="button" className="danger" onClick={onDiscard}>Discard mine and load revision {theirs.revision}</button>
      </div>
    </section>
  );
}

function JsonView({ doc, onApply }: { doc: Doc; onApply: (d: Doc) => void }) {
  const [text, setText] = useState(() => JSON.stringify(clean(doc), null, 2));
  const [error, setError] = useState<Error | null>(null);
  const apply = () => {
    try {
      const d = JSON.parse(text) as Doc;
      if (!d || typeof d !== 'object' || Array.isArray(d)) throw new Error('the document is a JSON object');
      if (!Array.isArray(d.environments)) throw new Error('the document needs an "environments" list');
      setError(null);
      onApply(d);
    } catch (e) {
      setError(e instanceof Error ? e : new Error(String(e)));
    }
  };
  return (
    <section aria-labelledby="json-title" className="designer-section">
      <h2 id="json-title">Document</h2>
      <p className="small">The same document as the form (the API's DefinitionInput). Secret values are not shown: a secret without a value keeps its stored one.</p>
      <label htmlFor="designer-json">Definition document (JSON)</label>
      <textarea id="designer-json" className="json" spellCheck={false} value={text} onChange={(e) => setText(e.target.value)} rows={24} />
      <ErrorNote error={error} />
      <div className="buttons"><button type="button" onClick={apply}>Apply JSON</button></div>
    </section>
  );
}
