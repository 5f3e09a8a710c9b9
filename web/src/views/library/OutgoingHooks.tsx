// Outgoing hooks: HTTP endpoints that receive Cairn's events, with each hook's delivery log
// (attempts, last status and error, next retry). The signing secret is write-only.
import { useState, type FormEvent } from 'react';
import type { CairnEvent } from '../../events';
import { mutate, type APIError } from '../../api';
import { useLive } from '../../hooks';
import { useMayCall } from '../../may';
import { Link, navigate } from '../../router';
import { Ago, ErrorNote, Loading, Page, edges } from '../../ui';
import { graphql } from '../../gql';
import type { HookDeliveryStatus, HookDeliveryWhereInput, OutgoingHooksPageQuery } from '../../gql/graphql';
import { Filters, Pager, pageVars, useParams, withParams, type FilterField } from '../../listing';
import { ConfirmButton, Field, KEEP, OtherError, SecretField, invalid, secretValue, type SecretEdit } from './common';
import { useDefinitions } from './usage';

const hooksQuery = graphql(`query OutgoingHooksPage {
  outgoingHooks(first: 100, orderBy: {field: CREATED_AT, direction: DESC}) {
    totalCount
    edges { node { id name url eventTypes definitionID slack enabled hasSecret updatedAt } }
  }
  hookEventTypes
}`);

const deliveriesQuery = graphql(`query HookDeliveriesPage($hookId: ID!, $first: Int, $after: Cursor, $last: Int, $before: Cursor, $where: HookDeliveryWhereInput) {
  hookDeliveries(hookId: $hookId, first: $first, after: $after, last: $last, before: $before, where: $where, orderBy: {field: CREATED_AT, direction: DESC}) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { node { id createdAt eventSequence eventType deliveryID status attempts responseCode lastError nextAttemptAt deliveredAt redelivery redeliveryOf { id } } }
  }
}`);
const redeliverMutation = graphql(`mutation RedeliverHookDelivery($id: ID!) { redeliverHookDelivery(id: $id) { id redelivery } }`);

const createMutation = graphql(`mutation CreateOutgoingHookForm($input: NewOutgoingHookInput!) { createOutgoingHook(input: $input) { id name } }`);
const updateMutation = graphql(`mutation UpdateOutgoingHookForm($id: ID!, $input: OutgoingHookPatchInput!) { updateOutgoingHook(id: $id, input: $input) { id name } }`);
const deleteMutation = graphql(`mutation DeleteOutgoingHookForm($id: ID!) { deleteOutgoingHook(id: $id) }`);

type Hook = NonNullable<NonNullable<NonNullable<OutgoingHooksPageQuery['outgoingHooks']['edges']>[number]>['node']>;

const statuses: HookDeliveryStatus[] = ['PENDING', 'SUCCEEDED', 'FAILED'];
const statusClass: Record<HookDeliveryStatus, string> = { PENDING: 'wait', SUCCEEDED: 'ok', FAILED: 'bad' };
const deliveryFields: FilterField[] = [
  { name: 'status', label: 'Status', kind: 'select', options: statuses.map((s) => ({ value: s, label: s.charAt(0) + s.slice(1).toLowerCase() })) },
  { name: 'event', label: 'Event type', placeholder: 'e.g. deployment.finished' },
];

// OutgoingHooks lists the hooks (ADMINs); ?hook=ID shows that hook's delivery log.
export function OutgoingHooks() {
  const p = useParams();
  const q = useLive(hooksQuery, {}, () => false);
  const may = useMayCall('Mutation.createOutgoingHook', 'Mutation.updateOutgoingHook', 'Mutation.deleteOutgoingHook');
  const { defs } = useDefinitions();
  const hooks = edges(q.data?.outgoingHooks);
  const [editing, setEditing] = useState<string>();
  const [creating, setCreating] = useState(false);
  const [error, setError] = useState<APIError>();
  const [note, setNote] = useState<string>();
  const shown = p.get('hook');
  const shownHook = hooks.find((h) => h.id === shown);
  const defName = (id?: number | null) => (id == null ? 'every definition' : defs.find((d) => d.id === String(id))?.name ?? `definition ${id}`);

  const remove = async (h: Hook) => {
    setError(undefined);
    try {
      await mutate(deleteMutation, { id: h.id });
      if (shown === h.id) navigate(withParams(p, { hook: undefined, after: undefined, before: undefined, status: undefined, event: undefined }));
      setNote(`Hook ${h.name} and its delivery log deleted.`);
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
  const edited = hooks.find((h) => h.id === editing);

  return (
    <Page title="Outgoing hooks" actions={may?.has('Mutation.createOutgoingHook') && !creating
      ? <button type="button" className="primary" onClick={() => { setCreating(true); setEditing(undefined); setNote(undefined); }}>New hook</button> : undefined}>
      <p className="small">HTTP endpoints that receive Cairn’s events as JSON (or a Slack message), signed with the hook’s secret (X-Cairn-Signature-256). A failed delivery is retried with backoff.</p>
      {creating && <HookForm types={q.data?.hookEventTypes ?? []} defs={defs} onDone={done} onCancel={() => setCreating(false)} />}
      {edited && <HookForm key={edited.id} existing={edited} types={q.data?.hookEventTypes ?? []} defs={defs} onDone={done} onCancel={() => setEditing(undefined)} />}
      {note && <p role="status" data-note>{note}</p>}
      <ErrorNote error={error ?? q.error} />
      {q.loading && !q.data ? <Loading what="hooks" /> : hooks.length === 0 ? <p>No outgoing hooks.</p> : (
        <div className="scroll-x" role="region" aria-label="Outgoing hooks" tabIndex={0}>
          <table data-testid="hooks">
            <thead><tr><th scope="col">Name</th><th scope="col">URL</th><th scope="col">Events</th><th scope="col">State</th><th scope="col">Actions</th></tr></thead>
            <tbody>
              {hooks.map((h) => (
                <tr key={h.id} data-hook={h.name}>
                  <th scope="row">{h.name}{h.slack && <span className="small"> (Slack)</span>}</th>
                  <td><code>{h.url}</code><div className="small">secret: {h.hasSecret ? 'set' : 'not set'}</div></td>
                  <td>{(h.eventTypes ?? []).length ? (h.eventTypes ?? []).join(', ') : 'all'}<div className="small">{defName(h.definitionID)}</div></td>
                  <td><span className={`pill ${h.enabled ? 'ok' : 'muted'}`}>{h.enabled ? 'Enabled' : 'Disabled'}</span></td>
                  <td><div className="row-actions">
                    <Link href={withParams(p, { hook: h.id, after: undefined, before: undefined, status: undefined, event: undefined })} aria-label={`Deliveries of ${h.name}`}>Deliveries</Link>
                    {may?.has('Mutation.updateOutgoingHook') && <button type="button" aria-label={`Edit ${h.name}`} onClick={() => { setEditing(h.id); setCreating(false); setNote(undefined); }}>Edit</button>}
                    {may?.has('Mutation.deleteOutgoingHook') && <ConfirmButton label="Delete" what={h.name} question={<>Delete hook <strong>{h.name}</strong> and its delivery log?</>} onConfirm={() => remove(h)} />}
                  </div></td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {shown && <Deliveries hookId={shown} name={shownHook?.name ?? shown} />}
    </Page>
  );
}

function Deliveries({ hookId, name }: { hookId: string; name: string }) {
  const p = useParams();
  const where: HookDeliveryWhereInput = {};
  const status = p.get('status') as HookDeliveryStatus | null;
  if (status && statuses.includes(status)) where.status = status;
  if (p.get('event')) where.eventTypeContains = p.get('event')!;
  const firstPage = !p.has('after') && !p.has('before');
  // Every persisted event may be delivered to the hook: the first page follows them.
  const q = useLive(deliveriesQuery, { hookId, ...pageVars(p), where }, (ev: CairnEvent) => firstPage && (ev.sequence ?? 0) > 0);
  const list = edges(q.data?.hookDeliveries);
  const may = useMayCall('Mutation.redeliverHookDelivery');
  const [busy, setBusy] = useState<string>();
  const [errors, setErrors] = useState<Record<string, APIError | undefined>>({});
  const [done, setDone] = useState<Record<string, string>>({});
  const redeliver = async (id: string) => {
    setBusy(id);
    setErrors((s) => ({ ...s, [id]: undefined }));
    try {
      const d = await mutate(redeliverMutation, { id });
      setDone((s) => ({ ...s, [id]: d.redeliverHookDelivery.id }));
      q.reload();
    } catch (e) {
      setErrors((s) => ({ ...s, [id]: e as APIError }));
    } finally {
      setBusy(undefined);
    }
  };
  const canRedeliver = !!may?.has('Mutation.redeliverHookDelivery');
  return (
    <section aria-labelledby="deliveries-title">
      <h2 id="deliveries-title">Deliveries of {name}</h2>
      <p className="small">One delivery per event, newest first, with its attempts and the last answer. Redeliver sends a finished delivery’s event again as a new delivery (its own X-Cairn-Delivery id, the first one’s in X-Cairn-Redelivery-Of), after the receiver is fixed.</p>
      <Filters id="hook-deliveries" fields={deliveryFields} />
      <ErrorNote error={q.error} />
      {q.loading && !q.data ? <Loading what="deliveries" /> : (
        <>
          {list.length === 0 ? <p>No deliveries match.</p> : (
            <div className="scroll-x" role="region" aria-label={`Deliveries of ${name}`} tabIndex={0}>
              <table data-testid="hook-deliveries">
                <thead><tr><th scope="col">Event</th><th scope="col">Created</th><th scope="col">Status</th><th scope="col">Attempts</th><th scope="col">Last answer</th><th scope="col">Next attempt</th>{canRedeliver && <th scope="col">Action</th>}</tr></thead>
                <tbody>
                  {list.map((d) => (
                    <tr key={d.id} data-status={d.status} data-delivery={d.id}>
                      <td><code>{d.eventType}</code> <span className="small">#{d.eventSequence}</span>{d.redeliveryOf && <div className="small" data-redelivery-of={d.redeliveryOf.id}>redelivery {d.redelivery} of delivery {d.redeliveryOf.id}</div>}</td>
                      <td><Ago time={d.createdAt} /></td>
                      <td><span className={`pill ${statusClass[d.status]}`}>{d.status.charAt(0) + d.status.slice(1).toLowerCase()}</span>{d.deliveredAt && <div className="small">delivered <Ago time={d.deliveredAt} /></div>}</td>
                      <td>{d.attempts}</td>
                      <td>{d.responseCode ? `HTTP ${d.responseCode}` : '—'}{d.lastError && <div className="small delivery-reason">{d.lastError}</div>}</td>
                      <td>{d.status === 'PENDING' ? <time dateTime={d.nextAttemptAt}>{new Date(d.nextAttemptAt).toLocaleString()}</time> : '—'}</td>
                      {canRedeliver && (
                        <td>
                          {d.status !== 'PENDING' && (
                            <button type="button" onClick={() => redeliver(d.id)} disabled={busy === d.id} aria-label={`Redeliver delivery ${d.id}`}
                              aria-describedby={errors[d.id] ? `hook-redeliver-error-${d.id}` : undefined}>
                              {busy === d.id ? 'Redelivering…' : 'Redeliver'}
                            </button>
                          )}
                          {done[d.id] && <p className="small" role="status" data-redelivered={done[d.id]}>Sent again as delivery {done[d.id]}.</p>}
                          {errors[d.id] && <p className="error small" role="alert" id={`hook-redeliver-error-${d.id}`}>{errors[d.id]!.message}</p>}
                        </td>
                      )}
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          <Pager info={q.data?.hookDeliveries.pageInfo} total={q.data?.hookDeliveries.totalCount} shown={list.length} label="Hook deliveries" />
        </>
      )}
    </section>
  );
}

function HookForm({ existing, types, defs, onDone, onCancel }: { existing?: Hook; types: string[]; defs: { id: string; name: string }[]; onDone: (m: string) => void; onCancel: () => void }) {
  const [name, setName] = useState(existing?.name ?? '');
  const [url, setURL] = useState(existing?.url ?? '');
  const [secret, setSecret] = useState<SecretEdit>(KEEP);
  const [events, setEvents] = useState<string[]>(existing?.eventTypes ?? []);
  const [definition, setDefinition] = useState(existing?.definitionID != null ? String(existing.definitionID) : '');
  const [slack, setSlack] = useState(existing?.slack ?? false);
  const [enabled, setEnabled] = useState(existing?.enabled ?? true);
  const [error, setError] = useState<APIError>();
  const prefix = existing ? `hook-${existing.id}` : 'hook-new';
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(undefined);
    const sec = secretValue(secret);
    try {
      if (existing) {
        const d = await mutate(updateMutation, { id: existing.id, input: {
          name, url, eventTypes: events, slack, enabled, ...(sec !== undefined ? { secret: sec } : {}),
          ...(definition ? { definitionId: definition } : { clearDefinition: true }),
        } });
        onDone(`Hook ${d.updateOutgoingHook.name} saved.`);
      } else {
        const d = await mutate(createMutation, { input: {
          name, url, eventTypes: events, slack, enabled, ...(sec !== undefined ? { secret: sec } : {}), ...(definition ? { definitionId: definition } : {}),
        } });
        onDone(`Hook ${d.createOutgoingHook.name} created.`);
      }
    } catch (err) {
      setError(err as APIError);
    }
  };
  return (
    <form className="edit" onSubmit={submit} aria-labelledby={`${prefix}-title`} data-form="hook">
      <h2 id={`${prefix}-title`}>{existing ? `Edit ${existing.name}` : 'New hook'}</h2>
      <Field id={`${prefix}-name`} label="Name" field="name" error={error}>
        <input {...invalid(`${prefix}-name`, error, 'name')} autoFocus value={name} required onChange={(e) => setName(e.target.value)} />
      </Field>
      <Field id={`${prefix}-url`} label="URL" field="url" error={error} hint="http:// or https://, without credentials">
        <input {...invalid(`${prefix}-url`, error, 'url')} type="url" value={url} required onChange={(e) => setURL(e.target.value)} />
      </Field>
      <SecretField id={`${prefix}-secret`} label="Signing secret" field="secret" error={error} stored={!!existing?.hasSecret} value={secret} onChange={setSecret}
        creating={!existing} hint="At least 16 characters; required unless the hook is a Slack one." />
      <fieldset className="field" aria-describedby={names0(error, 'eventTypes') ? `${prefix}-events-error` : undefined}>
        <legend>Events (none ticked: all)</legend>
        {types.map((t) => (
          <span className="check" key={t}>
            <input type="checkbox" id={`${prefix}-ev-${t}`} checked={events.includes(t)} onChange={(e) => setEvents((s) => (e.target.checked ? [...s, t] : s.filter((x) => x !== t)))} />
            <label htmlFor={`${prefix}-ev-${t}`}><code>{t}</code></label>
          </span>
        ))}
        {names0(error, 'eventTypes') && <span className="error small" role="alert" id={`${prefix}-events-error`}>{error!.message}</span>}
      </fieldset>
      <Field id={`${prefix}-def`} label="Definition" field="definitionId" error={error}>
        <select {...invalid(`${prefix}-def`, error, 'definitionId')} value={definition} onChange={(e) => setDefinition(e.target.value)}>
          <option value="">Every definition</option>
          {defs.map((d) => <option key={d.id} value={d.id}>{d.name}</option>)}
        </select>
      </Field>
      <span className="check"><input type="checkbox" id={`${prefix}-slack`} checked={slack} onChange={(e) => setSlack(e.target.checked)} /><label htmlFor={`${prefix}-slack`}>Slack incoming webhook (a one-line summary)</label></span>
      <span className="check"><input type="checkbox" id={`${prefix}-enabled`} checked={enabled} onChange={(e) => setEnabled(e.target.checked)} /><label htmlFor={`${prefix}-enabled`}>Enabled</label></span>
      <OtherError error={error} fields={['name', 'url', 'secret', 'eventTypes', 'definitionId']} />
      <div className="row-actions">
        <button type="submit" className="primary">{existing ? 'Save' : 'Create hook'}</button>
        <button type="button" onClick={onCancel}>Cancel</button>
      </div>
    </form>
  );
}

function names0(error: APIError | undefined, field: string): boolean {
  return !!error?.field && (error.field === field || error.field.startsWith(`${field}[`));
}
