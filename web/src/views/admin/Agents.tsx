import { useState, type FormEvent } from 'react';
import { mutate } from '../../api';
import { useLive } from '../../hooks';
import { Filters, Pager, pageVars, useParams, type FilterField } from '../../listing';
import { Ago, ErrorNote, Loading, Page, Status, edges } from '../../ui';
import { graphql } from '../../gql';
import type { AdminAgentsQuery, AgentWhereInput } from '../../gql/graphql';
import { Confirm, Field, OtherError, ShownOnce, useAction } from './common';

const agentsQuery = graphql(`query AdminAgents($first: Int, $after: Cursor, $last: Int, $before: Cursor, $where: AgentWhereInput) {
  agents(first: $first, after: $after, last: $last, before: $before, where: $where, orderBy: {field: NAME, direction: ASC}) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { node { id name version enabled online lastSeenAt maxJobs tags pool { name } deploymentGroup { name } systemCapabilities userCapabilities } }
  }
  agentPools { id name }
}`);

const registrationsQuery = graphql(`query AdminAgentRegistrations {
  agentRegistrations { id createdAt pool deploymentGroup maxUses uses expiresAt createdBy revokedAt }
}`);

const setEnabledMutation = graphql(`mutation AdminSetAgentEnabled($id: ID!, $enabled: Boolean!) { setAgentEnabled(id: $id, enabled: $enabled) { id enabled } }`);
const deleteAgentMutation = graphql(`mutation AdminDeleteAgent($id: ID!) { deleteAgent(id: $id) }`);
const moveAgentMutation = graphql(`mutation AdminMoveAgent($id: ID!, $pool: String!) { moveAgent(agentId: $id, pool: $pool) { id pool { name } } }`);
const createRegistrationMutation = graphql(`mutation AdminCreateAgentRegistration($pool: String, $maxUses: Int, $hours: Int) {
  createAgentRegistration(pool: $pool, maxUses: $maxUses, expiresInHours: $hours) { token registration { id pool } }
}`);
const revokeRegistrationMutation = graphql(`mutation AdminRevokeAgentRegistration($id: ID!) { revokeAgentRegistration(id: $id) { id revokedAt } }`);

const isAgentEvent = (ev: { __typename: string }) => ev.__typename === 'AgentStatusEvent';

// AdminAgents: every agent (pool agents and deployment-group targets) with paging and filters,
// enable/disable, move to another pool, delete, capabilities; and the registration tokens.
export function AdminAgents() {
  const p = useParams();
  const where: AgentWhereInput = {};
  const name = p.get('name');
  if (name) where.nameContainsFold = name;
  switch (p.get('state')) {
    case 'online': Object.assign(where, { online: true, enabled: true }); break;
    case 'offline': Object.assign(where, { online: false, enabled: true }); break;
    case 'disabled': where.enabled = false; break;
  }
  const pool = p.get('pool');
  if (pool) where.hasPoolWith = [{ name: pool }];
  if (p.get('kind') === 'pool') where.deploymentGroupIDIsNil = true;
  if (p.get('kind') === 'target') where.deploymentGroupIDNotNil = true;
  const q = useLive(agentsQuery, { ...pageVars(p), where }, isAgentEvent);
  const agents = edges(q.data?.agents);
  const pools = q.data?.agentPools ?? [];
  const fields: FilterField[] = [
    { name: 'name', label: 'Name', placeholder: 'part of a name' },
    { name: 'state', label: 'State', kind: 'select', options: [{ value: 'online', label: 'Online' }, { value: 'offline', label: 'Offline' }, { value: 'disabled', label: 'Disabled' }] },
    { name: 'kind', label: 'Kind', kind: 'select', options: [{ value: 'pool', label: 'Pool agent' }, { value: 'target', label: 'Deployment target' }] },
    { name: 'pool', label: 'Pool', kind: 'select', options: pools.map((x) => ({ value: x.name, label: x.name })) },
  ];
  return (
    <Page title="Agents">
      <Filters id="agents" fields={fields} />
      <ErrorNote error={q.error} />
      {q.loading && !q.data ? <Loading what="agents" /> : (
        <>
          {agents.length === 0 ? <p>No agents match.</p> : (
            <div className="scroll-x" role="region" aria-label="Agents" tabIndex={0}>
              <table data-testid="admin-agents">
                <thead><tr><th scope="col">Agent</th><th scope="col">State</th><th scope="col">Pool or group</th><th scope="col">Version</th><th scope="col">Last seen</th><th scope="col">Capabilities</th><th scope="col">Actions</th></tr></thead>
                <tbody>
                  {agents.map((a) => <AgentRow key={a.id} agent={a} reload={q.reload} />)}
                </tbody>
              </table>
            </div>
          )}
          <Pager info={q.data?.agents.pageInfo} total={q.data?.agents.totalCount} shown={agents.length} label="Agents" byName />
        </>
      )}
      <datalist id="admin-pools">{pools.map((x) => <option key={x.id} value={x.name} />)}</datalist>
      <Registrations />
    </Page>
  );
}

type AgentNode = NonNullable<NonNullable<NonNullable<AdminAgentsQuery['agents']['edges']>[number]>['node']>;

function AgentRow({ agent: a, reload }: { agent: AgentNode; reload: () => void }) {
  const act = useAction();
  const [to, setTo] = useState('');
  const caps = Object.entries(a.systemCapabilities ?? {}).map(([k, v]) => ({ k, v: String(v), user: false }))
    .filter((c) => !(a.userCapabilities ?? {})[c.k])
    .concat(Object.entries(a.userCapabilities ?? {}).map(([k, v]) => ({ k, v: String(v), user: true })))
    .sort((x, y) => x.k.localeCompare(y.k));
  const move = async (e: FormEvent) => {
    e.preventDefault();
    if (to && (await act.run(() => mutate(moveAgentMutation, { id: a.id, pool: to })))) reload();
  };
  return (
    <tr data-agent={a.name}>
      <th scope="row">{a.name}</th>
      <td><Status status={!a.enabled ? 'DISABLED' : a.online ? 'ONLINE' : 'OFFLINE'} /></td>
      <td>{a.pool ? a.pool.name : a.deploymentGroup ? <>{a.deploymentGroup.name} <span className="small">(target{(a.tags ?? []).length ? `: ${(a.tags ?? []).join(', ')}` : ''})</span></> : '—'}</td>
      <td>{a.version}</td>
      <td><Ago time={a.lastSeenAt} /></td>
      <td className="caps-cell">
        <details>
          <summary>{caps.length} capabilities</summary>
          <ul className="caps">
            {caps.map((c) => <li key={c.k}><code>{c.k}</code>{c.user && <span className="small"> (user)</span>} = {c.v}</li>)}
          </ul>
          <p className="small">User capabilities are set on the agent (<code>agent --capability key=value</code>) and override detected ones.</p>
        </details>
      </td>
      <td>
        <div className="buttons">
          <button type="button" onClick={async () => { if (await act.run(() => mutate(setEnabledMutation, { id: a.id, enabled: !a.enabled }))) reload(); }} disabled={act.busy}
            aria-label={`${a.enabled ? 'Disable' : 'Enable'} ${a.name}`}>{a.enabled ? 'Disable' : 'Enable'}</button>
          <Confirm label="Delete" name={a.name} question={`Delete ${a.name}? Its credential stops working and its running jobs are lost.`}
            onConfirm={async () => { if (await act.run(() => mutate(deleteAgentMutation, { id: a.id }))) reload(); }} />
        </div>
        {a.pool && (
          <form className="inline" onSubmit={move} aria-label={`Move ${a.name}`}>
            <label htmlFor={`move-${a.id}`} className="small">Move to pool</label>
            <input id={`move-${a.id}`} list="admin-pools" value={to} onChange={(e) => setTo(e.target.value)} size={10} />
            <button type="submit" disabled={act.busy || !to}>Move</button>
          </form>
        )}
        {act.error && <p className="error small" role="alert">{act.error.message}</p>}
      </td>
    </tr>
  );
}

function registrationState(r: { maxUses: number; uses: number; expiresAt: string; revokedAt?: string | null }): string {
  if (r.revokedAt) return 'Revoked';
  if (new Date(r.expiresAt).getTime() <= Date.now()) return 'Expired';
  if (r.uses >= r.maxUses) return 'Used up';
  return 'Active';
}

// Registrations: create a registration token (shown once) and revoke the ones still usable.
function Registrations() {
  const q = useLive(registrationsQuery, {}, isAgentEvent); // a registration uses a token up
  const [pool, setPool] = useState('');
  const [uses, setUses] = useState('1');
  const [hours, setHours] = useState('24');
  const [created, setCreated] = useState<{ token: string; pool: string }>();
  const act = useAction();
  const revoke = useAction();
  const create = async (e: FormEvent) => {
    e.preventDefault();
    await act.run(async () => {
      const d = await mutate(createRegistrationMutation, { pool: pool || null, maxUses: Number(uses), hours: Number(hours) });
      setCreated({ token: d.createAgentRegistration.token, pool: d.createAgentRegistration.registration.pool });
      q.reload();
    });
  };
  const list = (q.data?.agentRegistrations ?? []).filter((r) => !r.deploymentGroup);
  return (
    <section aria-labelledby="registrations-title">
      <h2 id="registrations-title">Registration tokens</h2>
      <p className="small">An agent exchanges a registration token for its own credential: <code>agent --server URL --token TOKEN</code>. Only the token's hash is kept.</p>
      <form className="stack" onSubmit={create} aria-label="New registration token" data-form="registration">
        <Field id="reg-pool" label="Pool (empty: the one the agent asks for, else default)" field="pool" error={act.error} value={pool} onChange={(e) => setPool(e.target.value)} list="admin-pools" />
        <Field id="reg-uses" label="Agents that may register with it" field="maxUses" error={act.error} type="number" inputMode="numeric" value={uses} onChange={(e) => setUses(e.target.value)} />
        <Field id="reg-hours" label="Valid for (hours)" field="expiresIn" error={act.error} type="number" inputMode="numeric" value={hours} onChange={(e) => setHours(e.target.value)} />
        <OtherError error={act.error} fields={['pool', 'maxUses', 'expiresIn']} />
        <div><button type="submit" disabled={act.busy}>Create registration token</button></div>
      </form>
      {created && <ShownOnce what={<>Registration token for pool <strong>{created.pool || '(the agent\u2019s choice)'}</strong>.</>} secret={created.token} onDismiss={() => setCreated(undefined)} />}
      <ErrorNote error={q.error ?? revoke.error} />
      <RegistrationTable list={list} revoke={(id) => revoke.run(() => mutate(revokeRegistrationMutation, { id })).then(q.reload)} what="pool" />
    </section>
  );
}

type Registration = { id: string; createdAt: string; pool: string; deploymentGroup: string; maxUses: number; uses: number; expiresAt: string; createdBy: string; revokedAt?: string | null };

// RegistrationTable lists registration tokens with their state; a usable one can be revoked.
export function RegistrationTable({ list, revoke, what }: { list: Registration[]; revoke: (id: string) => void; what: 'pool' | 'group' }) {
  if (list.length === 0) return <p className="muted">No registration tokens.</p>;
  return (
    <div className="scroll-x" role="region" aria-label="Registration tokens" tabIndex={0}>
      <table data-testid={`registrations-${what}`}>
        <thead><tr><th scope="col">#</th><th scope="col">{what === 'pool' ? 'Pool' : 'Deployment group'}</th><th scope="col">Used</th><th scope="col">Created</th><th scope="col">Expires</th><th scope="col">State</th></tr></thead>
        <tbody>
          {list.map((r) => {
            const state = registrationState(r);
            return (
              <tr key={r.id} data-registration={r.id} data-state={state}>
                <td>{r.id}</td>
                <td>{(what === 'pool' ? r.pool : r.deploymentGroup) || <span className="muted">any</span>}</td>
                <td>{r.uses} of {r.maxUses}</td>
                <td><Ago time={r.createdAt} /> <span className="small">by {r.createdBy}</span></td>
                <td><time dateTime={r.expiresAt}>{new Date(r.expiresAt).toLocaleString()}</time></td>
                <td>
                  {state}{' '}
                  {state === 'Active' && <Confirm label="Revoke" name={`registration token ${r.id}`} question="No agent will register with it any more." onConfirm={() => revoke(r.id)} />}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
