// Service connections: the CI servers, hosts, registries and clusters definitions and tasks
// reach. Secrets (tokens, passwords, private keys, kubeconfigs) are write-only: the page says
// whether one is stored and offers to set, replace or clear it, never shows it.
import { useState, type FormEvent } from 'react';
import { mutate, type APIError } from '../../api';
import { useLive } from '../../hooks';
import { useMayCall } from '../../may';
import { Ago, ErrorNote, Loading, Page, edges } from '../../ui';
import { graphql } from '../../gql';
import type { ServiceConnectionKind, ServiceConnectionsPageQuery, ServiceConnectionWhereInput } from '../../gql/graphql';
import { Filters, Pager, pageVars, useParams, type FilterField } from '../../listing';
import { ConfirmButton, Field, KEEP, OtherError, SecretField, invalid, secretValue, type SecretEdit } from './common';

const connectionsQuery = graphql(`query ServiceConnectionsPage($first: Int, $after: Cursor, $last: Int, $before: Cursor, $where: ServiceConnectionWhereInput) {
  serviceConnections(first: $first, after: $after, last: $last, before: $before, where: $where, orderBy: {field: CREATED_AT, direction: DESC}) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { node {
      id name kind url username host port hostKey trustOnFirstUse kubeContext namespace updatedAt
      hasSecret hasWebhookSecret hasPrivateKey hasKubeconfig usedBy
    } }
  }
}`);

const createMutation = graphql(`mutation CreateServiceConnectionForm($input: NewServiceConnectionInput!) {
  createServiceConnection(input: $input) { id name }
}`);
const updateMutation = graphql(`mutation UpdateServiceConnectionForm($id: ID!, $input: ServiceConnectionPatchInput!) {
  updateServiceConnection(id: $id, input: $input) { id name }
}`);
const deleteMutation = graphql(`mutation DeleteServiceConnectionForm($id: ID!) { deleteServiceConnection(id: $id) }`);

type Conn = NonNullable<NonNullable<NonNullable<ServiceConnectionsPageQuery['serviceConnections']['edges']>[number]>['node']>;
type Plain = 'url' | 'username' | 'host' | 'port' | 'hostKey' | 'kubeContext' | 'namespace';
type Secret = 'secret' | 'webhookSecret' | 'privateKey' | 'kubeconfig';

// What each kind takes (NewServiceConnectionInput's description); a kind the schema adds is a
// compile error here until it has its form.
const kinds: Record<ServiceConnectionKind, { label: string; plain: Plain[]; secrets: Secret[]; tofu?: boolean; secretLabel?: string; urlHint?: string }> = {
  JENKINS: { label: 'Jenkins', plain: ['url', 'username'], secrets: ['secret', 'webhookSecret'], secretLabel: 'API token or password', urlHint: 'The server’s base URL, http:// or https://' },
  AZURE_DEVOPS: { label: 'Azure DevOps', plain: ['url', 'username'], secrets: ['secret', 'webhookSecret'], secretLabel: 'Personal access token or password', urlHint: 'The organization’s URL, e.g. https://dev.azure.com/contoso' },
  SSH: { label: 'SSH', plain: ['host', 'port', 'username', 'hostKey'], secrets: ['privateKey', 'secret'], tofu: true, secretLabel: 'Password' },
  DOCKER_REGISTRY: { label: 'Docker registry', plain: ['url', 'username'], secrets: ['secret'], secretLabel: 'Password or token', urlHint: 'e.g. https://registry.example.com or registry.example.com:5000' },
  KUBERNETES: { label: 'Kubernetes', plain: ['kubeContext', 'namespace'], secrets: ['kubeconfig'] },
};
const kindNames = Object.keys(kinds) as ServiceConnectionKind[];

const plainLabels: Record<Plain, string> = { url: 'URL', username: 'Username', host: 'Host', port: 'Port', hostKey: 'Host keys', kubeContext: 'Context', namespace: 'Namespace' };
const plainHints: Partial<Record<Plain, string>> = {
  port: 'Empty: 22',
  hostKey: 'One a line: authorized_keys ("ssh-ed25519 AAAA…") or known_hosts lines (ssh-keyscan prints them)',
  kubeContext: 'Empty: the kubeconfig’s current-context',
  namespace: 'The namespace tasks use unless they name one',
};
const secretLabels: Record<Secret, string> = { secret: 'Secret', webhookSecret: 'Webhook secret', privateKey: 'Private key', kubeconfig: 'Kubeconfig' };
const secretHints: Partial<Record<Secret, string>> = {
  webhookSecret: 'The password the CI’s webhook sends (basic auth)',
  privateKey: 'Unencrypted, OpenSSH or PEM; sealed at rest. A private key, a password or both.',
  kubeconfig: 'YAML or JSON; sealed at rest',
};
const stored = (c: Conn | undefined, s: Secret): boolean =>
  !!c && { secret: c.hasSecret, webhookSecret: c.hasWebhookSecret, privateKey: c.hasPrivateKey, kubeconfig: c.hasKubeconfig }[s];

function address(c: Conn): string {
  if (c.kind === 'SSH') return `${c.username ? `${c.username}@` : ''}${c.host}:${c.port || 22}`;
  if (c.kind === 'KUBERNETES') return [c.kubeContext || 'current context', c.namespace].filter(Boolean).join(' · ');
  return c.url;
}

const filterFields: FilterField[] = [
  { name: 'name', label: 'Name', placeholder: 'contains' },
  { name: 'kind', label: 'Kind', kind: 'select', options: kindNames.map((k) => ({ value: k, label: kinds[k].label })) },
];

// ServiceConnections lists the connections (EDITORs read them; ADMINs change them).
export function ServiceConnections() {
  const p = useParams();
  const may = useMayCall('Mutation.createServiceConnection', 'Mutation.updateServiceConnection', 'Mutation.deleteServiceConnection');
  const where: ServiceConnectionWhereInput = {};
  if (p.get('name')) where.nameContainsFold = p.get('name')!;
  const kind = p.get('kind') as ServiceConnectionKind | null;
  if (kind && kind in kinds) where.kind = kind;
  const q = useLive(connectionsQuery, { ...pageVars(p), where }, () => false);
  const list = edges(q.data?.serviceConnections);
  const [editing, setEditing] = useState<string>();
  const [creating, setCreating] = useState(false);
  const [error, setError] = useState<APIError>();
  const [note, setNote] = useState<string>();

  const remove = async (c: Conn) => {
    setError(undefined);
    try {
      await mutate(deleteMutation, { id: c.id });
      setNote(`Connection ${c.name} deleted.`);
      q.reload();
    } catch (e) {
      setError(e as APIError);
    }
  };
  const done = (msg: string) => {
    setCreating(false);
    setEditing(undefined);
    setNote(msg);
    q.reload();
  };
  const edited = list.find((c) => c.id === editing);

  return (
    <Page title="Service connections" actions={may?.has('Mutation.createServiceConnection') && !creating
      ? <button type="button" className="primary" onClick={() => { setCreating(true); setEditing(undefined); setNote(undefined); }}>New connection</button> : undefined}>
      <p className="small">The CI servers, SSH hosts, Docker registries and Kubernetes clusters that definitions and tasks use. Secrets are write-only: Cairn says whether one is stored, never what it is.</p>
      {creating && <ConnectionForm onDone={done} onCancel={() => setCreating(false)} />}
      {edited && <ConnectionForm key={edited.id} existing={edited} onDone={done} onCancel={() => setEditing(undefined)} />}
      {note && <p role="status" data-note>{note}</p>}
      <ErrorNote error={error} />
      <Filters id="connections" fields={filterFields} />
      <ErrorNote error={q.error} />
      {q.loading && !q.data ? <Loading what="service connections" /> : (
        <>
          {list.length === 0 ? <p>No connections match.</p> : (
            <div className="scroll-x" role="region" aria-label="Service connections" tabIndex={0}>
              <table data-testid="connections">
                <thead><tr><th scope="col">Name</th><th scope="col">Kind</th><th scope="col">Address</th><th scope="col">Secrets stored</th><th scope="col">Used by</th><th scope="col">Changed</th>{(may?.has('Mutation.updateServiceConnection') || may?.has('Mutation.deleteServiceConnection')) && <th scope="col">Actions</th>}</tr></thead>
                <tbody>
                  {list.map((c) => (
                    <tr key={c.id} data-connection={c.name}>
                      <th scope="row">{c.name}</th>
                      <td>{kinds[c.kind]?.label ?? c.kind}</td>
                      <td><code>{address(c)}</code>{c.kind === 'SSH' && <div className="small">{c.hostKey ? 'host key pinned' : c.trustOnFirstUse ? 'trusts the first key seen' : ''}</div>}</td>
                      <td><div className="pills">{(kinds[c.kind]?.secrets ?? []).map((s) => (
                        <span key={s} className={`pill ${stored(c, s) ? 'ok' : 'muted'}`} data-has={s} data-stored={stored(c, s) ? 'set' : 'unset'}>{secretLabels[s]}: {stored(c, s) ? 'set' : 'not set'}</span>
                      ))}</div></td>
                      <td data-used-by>{c.usedBy.length ? c.usedBy.join('; ') : '—'}</td>
                      <td><Ago time={c.updatedAt} /></td>
                      {(may?.has('Mutation.updateServiceConnection') || may?.has('Mutation.deleteServiceConnection')) && (
                        <td><div className="row-actions">
                          {may?.has('Mutation.updateServiceConnection') && <button type="button" aria-label={`Edit ${c.name}`} onClick={() => { setEditing(c.id); setCreating(false); setNote(undefined); }}>Edit</button>}
                          {may?.has('Mutation.deleteServiceConnection') && <ConfirmButton label="Delete" what={c.name} question={<>Delete connection <strong>{c.name}</strong>?{c.usedBy.length ? ` ${c.usedBy.join('; ')} name it and stop working.` : ''}</>} onConfirm={() => remove(c)} />}
                        </div></td>
                      )}
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          <Pager info={q.data?.serviceConnections.pageInfo} total={q.data?.serviceConnections.totalCount} shown={list.length} label="Service connections" />
        </>
      )}
    </Page>
  );
}

// ConnectionForm creates a connection (existing undefined) or edits one; the kind cannot change.
function ConnectionForm({ existing, onDone, onCancel }: { existing?: Conn; onDone: (msg: string) => void; onCancel: () => void }) {
  const [kind, setKind] = useState<ServiceConnectionKind>(existing?.kind ?? 'JENKINS');
  const [name, setName] = useState(existing?.name ?? '');
  const [plain, setPlain] = useState<Record<Plain, string>>({
    url: existing?.url ?? '', username: existing?.username ?? '', host: existing?.host ?? '',
    port: existing?.port ? String(existing.port) : '', hostKey: existing?.hostKey ?? '',
    kubeContext: existing?.kubeContext ?? '', namespace: existing?.namespace ?? '',
  });
  const [tofu, setTofu] = useState(existing?.trustOnFirstUse ?? false);
  const [secrets, setSecrets] = useState<Record<Secret, SecretEdit>>({ secret: KEEP, webhookSecret: KEEP, privateKey: KEEP, kubeconfig: KEEP });
  const [error, setError] = useState<APIError>();
  const [busy, setBusy] = useState(false);
  const spec = kinds[kind];
  const prefix = existing ? `conn-${existing.id}` : 'conn-new';
  const fields = ['name', 'kind', ...spec.plain, ...spec.secrets, 'trustOnFirstUse'];

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    const input: Record<string, unknown> = { name: name.trim() };
    for (const f of spec.plain) {
      const v = plain[f].trim();
      if (f === 'port') {
        if (v !== '') input.port = Number(v);
        else if (existing) input.port = 0;
      } else if (existing || v !== '') input[f] = f === 'hostKey' ? plain[f] : v;
    }
    if (spec.tofu) input.trustOnFirstUse = tofu;
    for (const s of spec.secrets) {
      const v = secretValue(secrets[s]);
      if (v !== undefined) input[s] = v;
    }
    try {
      if (existing) {
        const d = await mutate(updateMutation, { id: existing.id, input });
        onDone(`Connection ${d.updateServiceConnection.name} saved.`);
      } else {
        const d = await mutate(createMutation, { input: { ...input, kind } as never });
        onDone(`Connection ${d.createServiceConnection.name} created.`);
      }
    } catch (err) {
      setError(err as APIError);
    } finally {
      setBusy(false);
    }
  };

  const title = existing ? `Edit ${existing.name}` : 'New connection';
  return (
    <form className="edit" onSubmit={submit} aria-labelledby={`${prefix}-title`} data-form="connection">
      <h2 id={`${prefix}-title`}>{title}</h2>
      <Field id={`${prefix}-kind`} label="Kind" field="kind" error={error} hint={existing ? 'The kind cannot change.' : undefined}>
        <select {...invalid(`${prefix}-kind`, error, 'kind')} value={kind} disabled={!!existing} onChange={(e) => setKind(e.target.value as ServiceConnectionKind)}>
          {kindNames.map((k) => <option key={k} value={k}>{kinds[k].label}</option>)}
        </select>
      </Field>
      <Field id={`${prefix}-name`} label="Name" field="name" error={error} hint="Definitions and tasks name the connection by it.">
        <input {...invalid(`${prefix}-name`, error, 'name')} autoFocus value={name} required onChange={(e) => setName(e.target.value)} />
      </Field>
      {spec.plain.map((f) => (
        <Field key={f} id={`${prefix}-${f}`} label={plainLabels[f]} field={f} error={error} hint={f === 'url' ? spec.urlHint : plainHints[f]}>
          {f === 'hostKey' ? (
            <textarea {...invalid(`${prefix}-${f}`, error, f)} rows={3} spellCheck={false} value={plain[f]} onChange={(e) => setPlain((s) => ({ ...s, [f]: e.target.value }))} />
          ) : (
            <input {...invalid(`${prefix}-${f}`, error, f)} type={f === 'port' ? 'number' : 'text'} inputMode={f === 'port' ? 'numeric' : undefined}
              autoComplete="off" value={plain[f]} onChange={(e) => setPlain((s) => ({ ...s, [f]: e.target.value }))} />
          )}
        </Field>
      ))}
      {spec.tofu && (
        <div className="field">
          <span className="check">
            <input type="checkbox" {...invalid(`${prefix}-tofu`, error, 'trustOnFirstUse')} checked={tofu} onChange={(e) => setTofu(e.target.checked)} />
            <label htmlFor={`${prefix}-tofu`}>Trust the host key first seen (when no host key is given)</label>
          </span>
          {error?.field === 'trustOnFirstUse' && <span className="error small" role="alert" id={`${prefix}-tofu-error`}>{error.message}</span>}
        </div>
      )}
      {spec.secrets.map((s) => (
        <SecretField key={s} id={`${prefix}-${s}`} label={s === 'secret' ? spec.secretLabel ?? 'Secret' : secretLabels[s]} field={s} error={error}
          stored={stored(existing, s)} value={secrets[s]} onChange={(v) => setSecrets((x) => ({ ...x, [s]: v }))}
          multiline={s === 'privateKey' || s === 'kubeconfig'} creating={!existing} hint={secretHints[s]} />
      ))}
      <OtherError error={error} fields={fields} />
      <div className="row-actions">
        <button type="submit" className="primary" disabled={busy}>{existing ? 'Save' : 'Create connection'}</button>
        <button type="button" onClick={onCancel}>Cancel</button>
      </div>
    </form>
  );
}
