import { useState, type FormEvent } from 'react';
import { APIError, mutate } from '../../api';
import { useLive } from '../../hooks';
import { ErrorNote, Loading, Page, Status } from '../../ui';
import { graphql } from '../../gql';
import { Field, OtherError, principals, principalsText, useAction } from './common';

const poolsQuery = graphql(`query AdminPools {
  agentPools { id name description createdAt mayUse { kind name } agents { id name online enabled } }
}`);

const savePoolMutation = graphql(`mutation AdminSaveAgentPool($input: AgentPoolInput!) { saveAgentPool(input: $input) { id name } }`);

type Saved = { name: string; description: string; mayUse: { kind: 'USER' | 'GROUP'; name: string }[] };

// SaveForm creates a pool or deployment group, or edits one (its name then fixed: saving is
// keyed by name): description and who may name it in a definition (mayUse).
export function SaveForm({ id, what, initial, save, onSaved, onCancel }: {
  id: string; what: string; initial?: { name: string; description: string; mayUse: { kind: string; name: string }[] };
  save: (input: Saved) => Promise<unknown>; onSaved: () => void; onCancel?: () => void;
}) {
  const [name, setName] = useState(initial?.name ?? '');
  const [description, setDescription] = useState(initial?.description ?? '');
  const [mayUse, setMayUse] = useState(principalsText(initial?.mayUse));
  const act = useAction();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const ok = await act.run(async () => {
      let list;
      try {
        list = principals(mayUse);
      } catch (err) {
        throw new APIError((err as Error).message, 'INVALID_INPUT', 0, 'mayUse');
      }
      await save({ name, description, mayUse: list });
    });
    if (ok) {
      if (!initial) {
        setName('');
        setDescription('');
        setMayUse('');
      }
      onSaved();
    }
  };
  return (
    <form className="stack" onSubmit={submit} aria-label={initial ? `Edit ${initial.name}` : `New ${what}`} data-form={id}>
      {!initial && <Field id={`${id}-name`} label="Name" field="name" error={act.error} value={name} onChange={(e) => setName(e.target.value)} required />}
      <Field id={`${id}-description`} label="Description" field="description" error={act.error} value={description} onChange={(e) => setDescription(e.target.value)} />
      <Field id={`${id}-mayuse`} label="May use (empty: every editor)" field="mayUse" error={act.error} value={mayUse} onChange={(e) => setMayUse(e.target.value)}
        placeholder="user:ann, group:ops" hint="Who may name it in a definition: user:NAME or group:NAME, separated by commas." />
      <OtherError error={act.error} fields={['name', 'description', 'mayUse']} />
      <div className="buttons">
        <button type="submit" className="primary" disabled={act.busy}>{initial ? 'Save' : `Create ${what}`}</button>
        {onCancel && <button type="button" onClick={onCancel}>Cancel</button>}
      </div>
    </form>
  );
}

// AdminPools: agent pools with their agents, created and edited here (description, mayUse).
export function AdminPools() {
  const q = useLive(poolsQuery, {}, (ev) => ev.__typename === 'AgentStatusEvent');
  const [editing, setEditing] = useState<string>();
  const save = (input: Saved) => mutate(savePoolMutation, { input });
  return (
    <Page title="Agent pools">
      <ErrorNote error={q.error} />
      {q.loading && !q.data ? <Loading what="agent pools" /> : (
        (q.data?.agentPools ?? []).length === 0 ? <p>No agent pools yet: agents registering create the default pool.</p> : (
          <div className="scroll-x" role="region" aria-label="Agent pools" tabIndex={0}>
            <table data-testid="pools">
              <thead><tr><th scope="col">Pool</th><th scope="col">Description</th><th scope="col">May use</th><th scope="col">Agents</th><th scope="col">Actions</th></tr></thead>
              <tbody>
                {(q.data?.agentPools ?? []).map((p) => (
                  <tr key={p.id} data-pool={p.name}>
                    <th scope="row">{p.name}</th>
                    {editing === p.name ? (
                      <td colSpan={4}>
                        <SaveForm id={`pool-${p.id}`} what="pool" initial={p} save={save} onSaved={() => { setEditing(undefined); q.reload(); }} onCancel={() => setEditing(undefined)} />
                      </td>
                    ) : (
                      <>
                        <td>{p.description || <span className="muted">—</span>}</td>
                        <td>{principalsText(p.mayUse) || <span className="muted">every editor</span>}</td>
                        <td>{(p.agents ?? []).length === 0 ? <span className="muted">none</span> : (p.agents ?? []).map((a) => (
                          <span key={a.id} className="agent-chip">{a.name} <Status status={!a.enabled ? 'DISABLED' : a.online ? 'ONLINE' : 'OFFLINE'} /></span>
                        ))}</td>
                        <td><button type="button" onClick={() => setEditing(p.name)} aria-label={`Edit ${p.name}`}>Edit</button></td>
                      </>
                    )}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )
      )}
      <h2>New pool</h2>
      <SaveForm id="new-pool" what="pool" save={save} onSaved={q.reload} />
    </Page>
  );
}
