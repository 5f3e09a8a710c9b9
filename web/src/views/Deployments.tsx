import { useLive } from '../hooks';
import { Link } from '../router';
import { Ago, ErrorNote, Loading, Page, Status, edges, human } from '../ui';
import { graphql } from '../gql';
import type { DeploymentStatus, DeploymentsFilter } from '../gql/graphql';
import { Filters, Pager, pageVars, useParams, validTime, type FilterField } from '../listing';

const deploymentsQuery = graphql(`query DeploymentsPage($first: Int, $after: Cursor, $last: Int, $before: Cursor, $filter: DeploymentsFilter) {
  deployments(first: $first, after: $after, last: $last, before: $before, filter: $filter) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { node {
      id environmentName status operation attempt requestedBy reason statusReason createdAt startedAt completedAt
      release { id name definition { id name } }
    } }
  }
}`);

const definitionsQuery = graphql(`query DeploymentsDefinitions {
  definitions(first: 100, orderBy: {field: NAME, direction: ASC}) { edges { node { id name } } }
}`);

// The statuses a deployment may have, from the schema's enum (a status the schema no longer has
// is a compile error).
const statuses: DeploymentStatus[] = [
  'PENDING_APPROVAL', 'EVALUATING_GATES', 'SCHEDULED', 'QUEUED', 'IN_PROGRESS', 'WAITING_FOR_INTERVENTION',
  'PENDING_POST_APPROVAL', 'EVALUATING_POST_GATES', 'SUCCEEDED', 'PARTIALLY_SUCCEEDED', 'FAILED', 'REJECTED', 'CANCELED',
];

const isID = (s: string | null): s is string => !!s && /^[1-9][0-9]{0,17}$/.test(s);

// Deployments lists the deployments of the releases the viewer may read, newest first,
// filtered by definition, environment, status, release, who asked and when, paged by cursor;
// the filter and the page are in the URL, so a filtered list can be shared as a link.
export function Deployments() {
  const p = useParams();
  const defs = useLive(definitionsQuery, {}, () => false);
  const fields: FilterField[] = [
    { name: 'definition', label: 'Definition', kind: 'select', options: edges(defs.data?.definitions).map((d) => ({ value: d.id, label: d.name })) },
    { name: 'environment', label: 'Environment', placeholder: 'prod' },
    { name: 'status', label: 'Status', kind: 'select', options: statuses.map((s) => ({ value: s, label: human(s) })) },
    { name: 'release', label: 'Release id', placeholder: '42' },
    { name: 'by', label: 'Requested by', placeholder: 'username' },
    { name: 'since', label: 'Since', kind: 'time' },
    { name: 'until', label: 'Until', kind: 'time' },
  ];
  const filter: DeploymentsFilter = {};
  const def = p.get('definition');
  if (isID(def)) filter.definitionId = def;
  if (p.get('environment')) filter.environment = p.get('environment')!;
  const status = p.get('status') as DeploymentStatus | null;
  if (status && statuses.includes(status)) filter.status = [status];
  const rel = p.get('release');
  if (isID(rel)) filter.releaseId = rel;
  if (p.get('by')) filter.requestedBy = p.get('by')!;
  const since = validTime(p, 'since');
  const until = validTime(p, 'until');
  if (since) filter.since = since;
  if (until) filter.until = until;
  const firstPage = !p.has('after') && !p.has('before');
  const q = useLive(deploymentsQuery, { ...pageVars(p), filter }, (ev) => firstPage &&
    (ev.__typename === 'DeploymentStartedEvent' || ev.__typename === 'DeploymentFinishedEvent' || ev.__typename === 'EnvironmentStatusChangedEvent'));
  const list = edges(q.data?.deployments);
  return (
    <Page title="Deployments">
      <Filters id="deployments" fields={fields} />
      <ErrorNote error={q.error} />
      {q.loading && !q.data ? <Loading what="deployments" /> : (
        <>
          {list.length === 0 ? <p>No deployments match.</p> : (
            <div className="scroll-x" role="region" aria-label="Deployments" tabIndex={0}>
              <table data-testid="deployments">
                <thead><tr><th scope="col">Deployment</th><th scope="col">Release</th><th scope="col">Environment</th><th scope="col">Status</th><th scope="col">Requested</th><th scope="col">Ran</th></tr></thead>
                <tbody>
                  {list.map((d) => (
                    <tr key={d.id} data-deployment={d.id} data-status={d.status}>
                      <th scope="row"><Link href={`/deployments/${d.id}`}>{human(d.operation)} #{d.attempt}</Link></th>
                      <td><Link href={`/releases/${d.release.id}`} className="release-name">{d.release.name}</Link> <span className="small">of <Link href={`/definitions/${d.release.definition.id}`}>{d.release.definition.name}</Link></span></td>
                      <td>{d.environmentName}</td>
                      <td><Status status={d.status} />{d.statusReason && <div className="small">{d.statusReason}</div>}</td>
                      <td><Ago time={d.createdAt} /> <span className="small">by {d.requestedBy}{d.reason && ` · ${d.reason}`}</span></td>
                      <td className="small">{d.startedAt ? <>started <Ago time={d.startedAt} /></> : '—'}{d.completedAt && <> · ended <Ago time={d.completedAt} /></>}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          <Pager info={q.data?.deployments.pageInfo} total={q.data?.deployments.totalCount} shown={list.length} label="Deployments" />
        </>
      )}
    </Page>
  );
}
