import { useLive } from '../hooks';
import { Link } from '../router';
import { Ago, ErrorNote, Loading, Page, Status, edges, human } from '../ui';
import { graphql } from '../gql';
import type { ReleaseStatus, ReleaseWhereInput } from '../gql/graphql';
import { Filters, Pager, pageVars, useParams, type FilterField } from '../listing';

const releasesQuery = graphql(`query ReleasesPage($first: Int, $after: Cursor, $last: Int, $before: Cursor, $where: ReleaseWhereInput) {
  releases(first: $first, after: $after, last: $last, before: $before, where: $where, orderBy: {field: CREATED_AT, direction: DESC}) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { node {
      id name status createdBy createdAt reason
      definition { id name }
      artifacts { alias branch buildNumber primary }
      environments { id name status }
    } }
  }
}`);

const statuses: ReleaseStatus[] = ['ACTIVE', 'DRAFT', 'ABANDONED'];

const fields: FilterField[] = [
  { name: 'status', label: 'Status', kind: 'select', options: statuses.map((s) => ({ value: s, label: human(s) })) },
  { name: 'branch', label: 'Branch', placeholder: 'main' },
  { name: 'creator', label: 'Created by', placeholder: 'username' },
  { name: 'definition', label: 'Definition', placeholder: 'name' },
];

// Releases lists the releases the viewer may read, newest first, filtered by status, artifact
// branch, creator and definition, paged by cursor, with the filter and page in the URL.
export function Releases() {
  const p = useParams();
  const where: ReleaseWhereInput = {};
  const status = p.get('status') as ReleaseStatus | null;
  if (status && statuses.includes(status)) where.status = status;
  if (p.get('creator')) where.createdBy = p.get('creator')!;
  const branch = p.get('branch');
  // A CI names a branch "main" or "refs/heads/main": either matches.
  if (branch) where.hasArtifactsWith = [{ or: [{ branch }, { branchHasSuffix: `/${branch}` }] }];
  if (p.get('definition')) where.hasDefinitionWith = [{ name: p.get('definition')! }];
  const firstPage = !p.has('after') && !p.has('before');
  const q = useLive(releasesQuery, { ...pageVars(p), where }, (ev) => firstPage && (ev.__typename === 'ReleaseCreatedEvent' || ev.__typename === 'EnvironmentStatusChangedEvent'));
  const list = edges(q.data?.releases);
  return (
    <Page title="Releases">
      <Filters id="releases" fields={fields} />
      <ErrorNote error={q.error} />
      {q.loading && !q.data ? <Loading what="releases" /> : (
        <>
          {list.length === 0 ? <p>No releases match.</p> : (
            <div className="scroll-x" role="region" aria-label="Releases" tabIndex={0}>
              <table data-testid="releases">
                <thead><tr><th scope="col">Release</th><th scope="col">Definition</th><th scope="col">Status</th><th scope="col">Branch</th><th scope="col">Created</th><th scope="col">Environments</th></tr></thead>
                <tbody>
                  {list.map((r) => {
                    const arts = r.artifacts ?? [];
                    const primary = arts.find((a) => a.primary) ?? arts[0];
                    return (
                      <tr key={r.id} data-release={r.name}>
                        <th scope="row"><Link href={`/releases/${r.id}`} className="release-name">{r.name}</Link></th>
                        <td><Link href={`/definitions/${r.definition.id}`}>{r.definition.name}</Link></td>
                        <td><Status status={r.status} /></td>
                        <td>{primary ? <><code>{primary.branch || '—'}</code> <span className="small">#{primary.buildNumber}</span></> : '—'}</td>
                        <td><Ago time={r.createdAt} /> <span className="small">by {r.createdBy}</span></td>
                        <td className="small">{(r.environments ?? []).map((e) => `${e.name}: ${human(e.status)}`).join(' · ')}</td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </div>
          )}
          <Pager info={q.data?.releases.pageInfo} total={q.data?.releases.totalCount} shown={list.length} label="Releases" />
        </>
      )}
    </Page>
  );
}
