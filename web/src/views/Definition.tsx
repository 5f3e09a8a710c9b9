import { useLive } from '../hooks';
import { Ago, ErrorNote, Loading, Page, Status, edges } from '../ui';
import { Link } from '../router';
import { graphql } from '../gql';
import { CreateReleaseButton } from './CreateRelease';

const defQuery = graphql(`query Definition($id: ID!) {
  definition(id: $id) {
    id name description revision
    viewerCan { editDefinition createReleases }
    environments { name rank }
    releases(first: 30, orderBy: {field: CREATED_AT, direction: DESC}) {
      edges { node { id name status createdAt createdBy environments { id name rank status } } }
    }
  }
}`);

export function Definition({ id }: { id: string }) {
  const q = useLive(defQuery, { id }, (ev) => ev.definitionId === id);
  const d = q.data?.definition;
  if (!d) return <Page title="Definition">{q.loading ? <Loading what="the definition" /> : <ErrorNote error={q.error ?? new Error('No such definition.')} />}</Page>;
  const releases = edges(d.releases);
  return (
    <Page title={d.name} actions={<>
      <Link href={`/definitions/${id}/revisions`}>Revision {d.revision}: history</Link>
      {d.viewerCan.editDefinition && <Link href={`/definitions/${id}/edit`} className="button-link">Edit</Link>}
      <CreateReleaseButton definitionId={id} definitionName={d.name} can={d.viewerCan.createReleases} />
    </>}>
      {d.description && <p>{d.description}</p>}
      <ErrorNote error={q.error} />
      <h2>Releases</h2>
      {releases.length === 0 ? <p className="muted">No releases yet.</p> : (
        <ul className="plain releases">
          {releases.map((r) => (
            <li key={r.id}>
              <Link href={`/releases/${r.id}`} className="release-name">{r.name}</Link>{' '}
              {r.status !== 'ACTIVE' && <Status status={r.status} />}
              <span className="small"> by {r.createdBy} <Ago time={r.createdAt} /></span>
              <ul className="pills" aria-label={`Environments of ${r.name}`}>
                {[...(r.environments ?? [])].sort((a, b) => a.rank - b.rank).map((e) => (
                  <li key={e.id}><span className="env-name">{e.name}</span> <Status status={e.status} /></li>
                ))}
              </ul>
            </li>
          ))}
        </ul>
      )}
    </Page>
  );
}
