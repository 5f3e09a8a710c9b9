import { useLive } from '../hooks';
import { ErrorNote, Loading, Page, edges } from '../ui';
import { graphql } from '../gql';
import type { AuditEventOrder, AuditEventWhereInput } from '../gql/graphql';
import { Filters, Pager, pageVars, useParams, validTime, type FilterField } from '../listing';

const auditQuery = graphql(`query AuditPage($first: Int, $after: Cursor, $last: Int, $before: Cursor, $where: AuditEventWhereInput, $orderBy: AuditEventOrder) {
  auditEvents(first: $first, after: $after, last: $last, before: $before, where: $where, orderBy: $orderBy) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { node { id sequence time actor onBehalfOf action targetType targetID } }
  }
}`);

const fields: FilterField[] = [
  { name: 'actor', label: 'Actor', placeholder: 'username' },
  { name: 'action', label: 'Action', placeholder: 'release.create' },
  { name: 'targetType', label: 'Target type', placeholder: 'release' },
  { name: 'target', label: 'Target id' },
  { name: 'since', label: 'Since', kind: 'time' },
  { name: 'until', label: 'Until', kind: 'time' },
];

// Audit is the audit log, newest first, filtered by actor, action, target and time (indexed
// filters, so a page costs the same however long the log is), paged by cursor; the filter and
// the page are in the URL.
export function Audit() {
  const p = useParams();
  const where: AuditEventWhereInput = {};
  if (p.get('actor')) where.actor = p.get('actor')!;
  if (p.get('action')) where.action = p.get('action')!;
  if (p.get('targetType')) where.targetType = p.get('targetType')!;
  if (p.get('target')) where.targetID = p.get('target')!;
  const since = validTime(p, 'since');
  const until = validTime(p, 'until');
  if (since) where.timeGTE = since;
  if (until) where.timeLT = until;
  // A time range is read in time order (its index), not sorted by sequence.
  const orderBy: AuditEventOrder | undefined = since || until ? { field: 'TIME', direction: 'DESC' } : undefined;
  const firstPage = !p.has('after') && !p.has('before');
  const q = useLive(auditQuery, { ...pageVars(p), where, orderBy }, () => firstPage);
  const list = edges(q.data?.auditEvents);
  return (
    <Page title="Audit log">
      <Filters id="audit" fields={fields} />
      <ErrorNote error={q.error} />
      {q.loading && !q.data ? <Loading what="the audit log" /> : (
        <>
          {list.length === 0 ? <p>No audit events match.</p> : (
            <div className="scroll-x" role="region" aria-label="Audit events" tabIndex={0}>
              <table data-testid="audit">
                <thead><tr><th scope="col">#</th><th scope="col">Time</th><th scope="col">Actor</th><th scope="col">Action</th><th scope="col">Target</th></tr></thead>
                <tbody>
                  {list.map((e) => (
                    <tr key={e.id} data-action={e.action}>
                      <td>{e.sequence}</td>
                      <td><time dateTime={e.time}>{new Date(e.time).toLocaleString()}</time></td>
                      <td>{e.actor}{e.onBehalfOf && ` for ${e.onBehalfOf}`}</td>
                      <td><code>{e.action}</code></td>
                      <td>{e.targetType} {e.targetID}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          <Pager info={q.data?.auditEvents.pageInfo} total={q.data?.auditEvents.totalCount} shown={list.length} label="Audit log" />
        </>
      )}
    </Page>
  );
}
