// Variable groups: variables shared by definitions (linked by name), with who may use,
// administer and read each. Secret values are write-only: shown as "set", replaced or kept.
import { useState, type FormEvent } from 'react';
import { mutate, type APIError } from '../../api';
import { useLive } from '../../hooks';
import { useMayCall } from '../../may';
import { Ago, ErrorNote, Loading, Page } from '../../ui';
import { graphql } from '../../gql';
import type { VariableGroupsPageQuery } from '../../gql/graphql';
import { ConfirmButton, Field, OtherError, approversText, invalid, names, parseApprovers } from './common';

const groupsQuery = graphql(`query VariableGroupsPage {
  variableGroups {
    id name description revision createdBy updatedAt usedBy
    variables { name value secret settableAtReleaseTime }
    permissions { use { kind name } administer { kind name } read { kind name } }
    viewerCan { use administer read }
  }
}`);
const createMutation = graphql(`mutation CreateVariableGroupForm($input: VariableGroupInput!, $comment: String) { createVariableGroup(input: $input, comment: $comment) { id name } }`);
const updateMutation = graphql(`mutation UpdateVariableGroupForm($id: ID!, $rev: Int!, $input: VariableGroupInput!, $comment: String) {
  updateVariableGroup(id: $id, expectedRevision: $rev, input: $input, comment: $comment) { id name revision }
}`);
const deleteMutation = graphql(`mutation DeleteVariableGroupForm($id: ID!) { deleteVariableGroup(id: $id) }`);

type Group = VariableGroupsPageQuery['variableGroups'][number];
// A variable being edited; a stored secret keeps its value unless replaced.
type Row = { key: number; name: string; value: string; secret: boolean; settable: boolean; storedSecret: boolean; replace: boolean };

// VariableGroups lists the groups (every VIEWER sees that they exist; values to their readers).
export function VariableGroups() {
  const q = useLive(groupsQuery, {}, () => false);
  const may = useMayCall('Mutation.createVariableGroup');
  const [editing, setEditing] = useState<string>();
  const [creating, setCreating] = useState(false);
  const [errors, setErrors] = useState<Record<string, APIError>>({});
  const [note, setNote] = useState<string>();
  const groups = q.data?.variableGroups ?? [];
  const edited = groups.find((g) => g.id === editing);
  const remove = async (g: Group) => {
    setErrors(({ [g.id]: _, ...rest }) => rest);
    try {
      await mutate(deleteMutation, { id: g.id });
      setNote(`Variable group ${g.name} deleted.`);
      q.reload();
    } catch (e) {
      setErrors((s) => ({ ...s, [g.id]: e as APIError }));
    }
  };
  const done = (m: string) => {
    setCreating(false);
    setEditing(undefined);
    setNote(m);
    q.reload();
  };
  return (
    <Page title="Variable groups" actions={may?.has('Mutation.createVariableGroup') && !creating
      ? <button type="button" className="primary" onClick={() => { setCreating(true); setEditing(undefined); setNote(undefined); }}>New variable group</button> : undefined}>
      <p className="small">Variables that definitions and environments link by the group’s name; a release freezes their values when it is created. Secret values are never shown.</p>
      {creating && <GroupForm onDone={done} onCancel={() => setCreating(false)} />}
      {edited && <GroupForm key={edited.id} existing={edited} onDone={done} onCancel={() => setEditing(undefined)} />}
      {note && <p role="status" data-note>{note}</p>}
      <ErrorNote error={q.error} />
      {q.loading && !q.data ? <Loading what="variable groups" /> : groups.length === 0 ? <p>No variable groups.</p> : groups.map((g) => {
        const users = g.usedBy;
        return (
          <article key={g.id} className="card" data-group={g.name} aria-labelledby={`group-${g.id}-title`}>
            <header>
              <h2 id={`group-${g.id}-title`}>{g.name}</h2>
              <span className="small">revision {g.revision} · <Ago time={g.updatedAt} /></span>
            </header>
            {g.description && <p>{g.description}</p>}
            {g.variables.length === 0 ? <p className="muted">No variables.</p> : (
              <div className="scroll-x" role="region" aria-label={`Variables of ${g.name}`} tabIndex={0}>
                <table>
                  <thead><tr><th scope="col">Variable</th><th scope="col">Value</th><th scope="col">Settable at release</th></tr></thead>
                  <tbody>
                    {g.variables.map((v) => (
                      <tr key={v.name} data-variable={v.name}>
                        <th scope="row"><code>{v.name}</code></th>
                        <td>{v.secret ? <span className="pill muted" data-secret-value>secret (set)</span> : v.value == null ? <span className="small">hidden (you may not read this group)</span> : <code>{v.value}</code>}</td>
                        <td>{v.settableAtReleaseTime ? 'yes' : 'no'}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
            <dl className="facts">
              <dt>Used by</dt><dd data-used-by>{users.length ? users.join('; ') : 'no definition you may read'}</dd>
              <dt>Use</dt><dd>{approversText(g.permissions.use) || 'every EDITOR'}</dd>
              <dt>Administer</dt><dd>{approversText(g.permissions.administer) || 'every EDITOR'}</dd>
              <dt>Read</dt><dd>{approversText(g.permissions.read) || 'everyone'}</dd>
            </dl>
            {g.viewerCan.administer && (
              <div className="row-actions">
                <button type="button" aria-label={`Edit ${g.name}`} onClick={() => { setEditing(g.id); setCreating(false); setNote(undefined); }}>Edit</button>
                <ConfirmButton label="Delete" what={g.name} question={<>Delete variable group <strong>{g.name}</strong>?{users.length ? ` It is linked by ${users.join('; ')}: unlink it there first.` : ''}</>} onConfirm={() => remove(g)} />
              </div>
            )}
            <ErrorNote error={errors[g.id]} />
          </article>
        );
      })}
    </Page>
  );
}

let nextKey = 1;
const toRows = (g?: Group): Row[] => (g?.variables ?? []).map((v) => ({
  key: nextKey++, name: v.name, value: v.value ?? '', secret: v.secret, settable: v.settableAtReleaseTime, storedSecret: v.secret, replace: false,
}));

function GroupForm({ existing, onDone, onCancel }: { existing?: Group; onDone: (m: string) => void; onCancel: () => void }) {
  const [name, setName] = useState(existing?.name ?? '');
  const [description, setDescription] = useState(existing?.description ?? '');
  const [rows, setRows] = useState<Row[]>(() => toRows(existing));
  const [use, setUse] = useState(approversText(existing?.permissions.use ?? []));
  const [administer, setAdminister] = useState(approversText(existing?.permissions.administer ?? []));
  const [read, setRead] = useState(approversText(existing?.permissions.read ?? []));
  const [comment, setComment] = useState('');
  const [error, setError] = useState<APIError>();
  const prefix = existing ? `group-${existing.id}` : 'group-new';
  const set = (key: number, change: Partial<Row>) => setRows((rs) => rs.map((r) => (r.key === key ? { ...r, ...change } : r)));
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(undefined);
    const input = {
      name, description,
      variables: rows.filter((r) => r.name.trim() !== '').map((r) => ({
        name: r.name.trim(), secret: r.secret, settableAtReleaseTime: r.settable,
        // A stored secret not replaced is sent without a value: the server keeps it.
        ...(r.secret && r.storedSecret && !r.replace ? {} : { value: r.value }),
      })),
      permissions: { use: parseApprovers(use), administer: parseApprovers(administer), read: parseApprovers(read) },
    };
    try {
      if (existing) {
        const d = await mutate(updateMutation, { id: existing.id, rev: existing.revision, input, comment: comment || undefined });
        onDone(`Variable group ${d.updateVariableGroup.name} saved (revision ${d.updateVariableGroup.revision}).`);
      } else {
        const d = await mutate(createMutation, { input, comment: comment || undefined });
        onDone(`Variable group ${d.createVariableGroup.name} created.`);
      }
    } catch (err) {
      setError(err as APIError);
    }
  };
  return (
    <form className="edit" onSubmit={submit} aria-labelledby={`${prefix}-title`} data-form="variable-group">
      <h2 id={`${prefix}-title`}>{existing ? `Edit ${existing.name}` : 'New variable group'}</h2>
      <Field id={`${prefix}-name`} label="Name" field="name" error={error} hint="Definitions link the group by it; not all digits">
        <input {...invalid(`${prefix}-name`, error, 'name')} autoFocus value={name} required onChange={(e) => setName(e.target.value)} />
      </Field>
      <Field id={`${prefix}-description`} label="Description" field="description" error={error}>
        <input {...invalid(`${prefix}-description`, error, 'description')} value={description} onChange={(e) => setDescription(e.target.value)} />
      </Field>
      <fieldset className="field">
        <legend>Variables</legend>
        <div className="scroll-x">
          <table className="vars">
            <thead><tr><th scope="col">Name</th><th scope="col">Value</th><th scope="col">Secret</th><th scope="col">Settable at release</th><th scope="col"><span className="sr-only">Remove</span></th></tr></thead>
            <tbody>
              {rows.map((r, i) => {
                const id = `${prefix}-var-${r.key}`;
                const keep = r.secret && r.storedSecret && !r.replace;
                return (
                  <tr key={r.key} data-row={r.name}>
                    <td><input id={`${id}-name`} type="text" aria-label={`Name of variable ${i + 1}`} value={r.name} onChange={(e) => set(r.key, { name: e.target.value })}
                      aria-invalid={names(error, `variables[${i}]`) || undefined} spellCheck={false} /></td>
                    <td>
                      {keep ? (
                        <span className="secret-state"><span className="pill ok" data-stored="set">set</span>{' '}
                          <button type="button" onClick={() => set(r.key, { replace: true, value: '' })} aria-label={`Replace the value of ${r.name}`}>Replace</button></span>
                      ) : (
                        <input id={`${id}-value`} type={r.secret ? 'password' : 'text'} autoComplete={r.secret ? 'new-password' : 'off'} aria-label={`Value of ${r.name || `variable ${i + 1}`}`}
                          value={r.value} onChange={(e) => set(r.key, { value: e.target.value })} />
                      )}
                    </td>
                    <td><input type="checkbox" aria-label={`${r.name || `Variable ${i + 1}`} is secret`} checked={r.secret}
                      onChange={(e) => set(r.key, { secret: e.target.checked, ...(e.target.checked ? {} : { storedSecret: false, replace: false }) })} /></td>
                    <td><input type="checkbox" aria-label={`${r.name || `Variable ${i + 1}`} is settable at release time`} checked={r.settable} onChange={(e) => set(r.key, { settable: e.target.checked })} /></td>
                    <td><button type="button" aria-label={`Remove ${r.name || `variable ${i + 1}`}`} onClick={() => setRows((rs) => rs.filter((x) => x.key !== r.key))}>Remove</button></td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
        <button type="button" onClick={() => setRows((rs) => [...rs, { key: nextKey++, name: '', value: '', secret: false, settable: false, storedSecret: false, replace: false }])}>Add variable</button>
        {names(error, 'variables') && <span className="error small" role="alert">{error!.message}</span>}
      </fieldset>
      <Field id={`${prefix}-use`} label="May use (link it)" field="permissions.use" error={error} hint="Users and groups, e.g. ann, group:ops; empty: every EDITOR">
        <input {...invalid(`${prefix}-use`, error, 'permissions.use')} value={use} onChange={(e) => setUse(e.target.value)} />
      </Field>
      <Field id={`${prefix}-administer`} label="May administer" field="permissions.administer" error={error} hint="Empty: every EDITOR">
        <input {...invalid(`${prefix}-administer`, error, 'permissions.administer')} value={administer} onChange={(e) => setAdminister(e.target.value)} />
      </Field>
      <Field id={`${prefix}-read`} label="May read values" field="permissions.read" error={error} hint="Empty: everyone">
        <input {...invalid(`${prefix}-read`, error, 'permissions.read')} value={read} onChange={(e) => setRead(e.target.value)} />
      </Field>
      <Field id={`${prefix}-comment`} label="Comment" field="comment" error={error} hint="Kept with the revision">
        <input {...invalid(`${prefix}-comment`, error, 'comment')} value={comment} onChange={(e) => setComment(e.target.value)} />
      </Field>
      <OtherError error={error} fields={['name', 'description', 'variables', 'permissions', 'comment']} />
      <div className="row-actions">
        <button type="submit" className="primary">{existing ? 'Save' : 'Create variable group'}</button>
        <button type="button" onClick={onCancel}>Cancel</button>
      </div>
    </form>
  );
}
