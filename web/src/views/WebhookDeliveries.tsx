import { useState } from 'react';
import { mutate, type APIError } from '../api';
import { useLive } from '../hooks';
import { useMayCall } from '../may';
import { Link } from '../router';
import { Ago, ErrorNote, Loading, Page, edges } from '../ui';
import { graphql } from '../gql';
import type { WebhookDeliveryResult, WebhookDeliverySource, WebhookDeliveryWhereInput } from '../gql/graphql';
import { Filters, Pager, pageVars, useParams, validTime, type FilterField } from '../listing';

const deliveriesQuery = graphql(`query WebhookDeliveriesPage($first: Int, $after: Cursor, $last: Int, $before: Cursor, $where: WebhookDeliveryWhereInput) {
  webhookDeliveries(first: $first, after: $after, last: $last, before: $before, where: $where, orderBy: {field: CREATED_AT, direction: DESC}) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { node {
      id createdAt source buildKey event result reason statusCode
      connection { name }
      releases { id name }
      redeliveryOf { id }
      redeliveries { id result }
    } }
  }
}`);

const redeliverMutation = graphql(`mutation RedeliverWebhookDelivery($id: ID!) {
  redeliverWebhookDelivery(id: $id) { id result reason releases { id name } }
}`);

const results: WebhookDeliveryResult[] = ['ACCEPTED', 'IGNORED', 'REJECTED'];
const sources: WebhookDeliverySource[] = ['JENKINS', 'TEAMBUILD'];

const fields: FilterField[] = [
  { name: 'result', label: 'Result', kind: 'select', options: results.map((r) => ({ value: r, label: r.charAt(0) + r.slice(1).toLowerCase() })) },
  { name: 'source', label: 'Source', kind: 'select', options: sources.map((s) => ({ value: s, label: s === 'JENKINS' ? 'Jenkins' : 'Azure DevOps' })) },
  { name: 'build', label: 'Build', placeholder: 'job or build' },
  { name: 'since', label: 'Since', kind: 'time' },
  { name: 'until', label: 'Until', kind: 'time' },
];

const resultClass: Record<WebhookDeliveryResult, string> = { ACCEPTED: 'ok', IGNORED: 'muted', REJECTED: 'bad' };

type Redelivered = { id: string; result: WebhookDeliveryResult; reason: string; releases?: { id: string; name: string }[] | null };

// WebhookDeliveries lists the CI notifications Cairn received, newest first, with why each was
// accepted, ignored or rejected; one ignored because of a configuration mistake is processed
// again (redelivered) after the fix.
export function WebhookDeliveries() {
  const p = useParams();
  const may = useMayCall('Mutation.redeliverWebhookDelivery');
  const where: WebhookDeliveryWhereInput = {};
  const result = p.get('result') as WebhookDeliveryResult | null;
  const source = p.get('source') as WebhookDeliverySource | null;
  if (result && results.includes(result)) where.result = result;
  if (source && sources.includes(source)) where.source = source;
  if (p.get('build')) where.buildKeyContains = p.get('build')!;
  const since = validTime(p, 'since');
  const until = validTime(p, 'until');
  if (since) where.createdAtGTE = since;
  if (until) where.createdAtLT = until;
  const q = useLive(deliveriesQuery, { ...pageVars(p), where }, () => false);
  const list = edges(q.data?.webhookDeliveries);
  const [done, setDone] = useState<Record<string, Redelivered>>({});
  const [errors, setErrors] = useState<Record<string, APIError>>({});
  const [busy, setBusy] = useState<string>();

  const redeliver = async (id: string) => {
    setBusy(id);
    setErrors(({ [id]: _, ...rest }) => rest);
    try {
      const d = await mutate(redeliverMutation, { id });
      setDone((s) => ({ ...s, [id]: d.redeliverWebhookDelivery }));
      q.reload();
    } catch (e) {
      setErrors((s) => ({ ...s, [id]: e as APIError }));
    } finally {
      setBusy(undefined);
    }
  };

  return (
    <Page title="Webhook deliveries">
      <p className="small">The CI notifications Cairn received. Redeliver processes a stored notification again under the current definitions (after fixing one that ignored a build); a definition that released the build already does not release it twice.</p>
      <Filters id="deliveries" fields={fields} />
      <ErrorNote error={q.error} />
      {q.loading && !q.data ? <Loading what="webhook deliveries" /> : (
        <>
          {list.length === 0 ? <p>No deliveries match.</p> : (
            <div className="scroll-x" role="region" aria-label="Webhook deliveries" tabIndex={0}>
              <table data-testid="deliveries">
                <thead><tr><th scope="col">#</th><th scope="col">Received</th><th scope="col">From</th><th scope="col">Build</th><th scope="col">Result</th><th scope="col">Releases</th>{may?.has('Mutation.redeliverWebhookDelivery') && <th scope="col">Action</th>}</tr></thead>
                <tbody>
                  {list.map((d) => {
                    const again = done[d.id];
                    const err = errors[d.id];
                    return (
                      <tr key={d.id} data-delivery={d.id} data-result={d.result}>
                        <td>{d.id}{d.redeliveryOf && <span className="small"> (redelivery of {d.redeliveryOf.id})</span>}</td>
                        <td><Ago time={d.createdAt} /></td>
                        <td>{d.source === 'JENKINS' ? 'Jenkins' : 'Azure DevOps'}{d.connection && <span className="small"> · {d.connection.name}</span>}</td>
                        <td><code>{d.buildKey || '—'}</code>{d.event && <span className="small"> {d.event}</span>}</td>
                        <td>
                          <span className={`pill ${resultClass[d.result]}`}>{d.result.charAt(0) + d.result.slice(1).toLowerCase()}</span>{' '}
                          <span className="small">{d.statusCode}</span>
                          {d.reason && <div className="small delivery-reason">{d.reason}</div>}
                          {(d.redeliveries ?? []).length > 0 && <div className="small">Redelivered as {(d.redeliveries ?? []).map((r) => `${r.id} (${r.result.toLowerCase()})`).join(', ')}</div>}
                        </td>
                        <td>{(d.releases ?? []).map((r) => <Link key={r.id} href={`/releases/${r.id}`}>{r.name}</Link>)}</td>
                        {may?.has('Mutation.redeliverWebhookDelivery') && (
                          <td>
                            <button type="button" onClick={() => redeliver(d.id)} disabled={busy === d.id} aria-describedby={err ? `redeliver-error-${d.id}` : undefined}>
                              {busy === d.id ? 'Redelivering…' : 'Redeliver'}
                            </button>
                            {again && (
                              <p className="small" role="status" data-redelivered={again.id}>
                                Delivery {again.id}: {again.result.toLowerCase()}{again.reason && ` (${again.reason})`}
                                {(again.releases ?? []).map((r) => <span key={r.id}>{' '}<Link href={`/releases/${r.id}`}>{r.name}</Link></span>)}
                              </p>
                            )}
                            {err && <p className="error small" role="alert" id={`redeliver-error-${d.id}`}>{err.message}</p>}
                          </td>
                        )}
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </div>
          )}
          <Pager info={q.data?.webhookDeliveries.pageInfo} total={q.data?.webhookDeliveries.totalCount} shown={list.length} label="Webhook deliveries" />
        </>
      )}
    </Page>
  );
}
