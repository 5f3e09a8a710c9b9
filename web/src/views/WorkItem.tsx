import { useLive } from '../hooks';
import { Ago, ErrorNote, ExternalLink, Loading, Page, Status } from '../ui';
import { Link } from '../router';
import { graphql } from '../gql';

const wiQuery = graphql(`query WorkItem($system: String!, $id: String!) {
  workItem(system: $system, externalId: $id) {
    workItem { title state type url externalID system }
    deployedTo { definitionId definitionName environment deployedAt status release { id name } introduced { id name } }
    notDeployedTo { definitionId definitionName environment introduced { id name } current { id name } }
  }
}`);

export function WorkItem({ system, externalId }: { system: string; externalId: string }) {
  const q = useLive(wiQuery, { system, id: externalId }, (ev) => ev.__typename === 'DeploymentFinishedEvent');
  const w = q.data?.workItem;
  if (!w) return <Page title={`Work item ${externalId}`}>{q.loading ? <Loading what="the work item" /> : <ErrorNote error={q.error ?? new Error('No such work item.')} />}</Page>;
  return (
    <Page title={`${w.workItem.externalID}: ${w.workItem.title || '(no title)'}`}>
      <p className="small">{w.workItem.system} {w.workItem.type} {w.workItem.state && `· ${w.workItem.state}`} {w.workItem.url && <ExternalLink url={w.workItem.url}>open</ExternalLink>}</p>
      <h2>Deployed to</h2>
      {w.deployedTo.length === 0 ? <p className="muted">Nowhere yet.</p> : (
        <ul className="plain">
          {w.deployedTo.map((d) => (
            <li key={d.definitionId + d.environment}>
              {d.definitionName} / <strong>{d.environment}</strong>: <Link href={`/releases/${d.release.id}`}>{d.release.name}</Link> <Status status={d.status} /> <Ago time={d.deployedAt} />
            </li>
          ))}
        </ul>
      )}
      <h2>Not yet in</h2>
      {w.notDeployedTo.length === 0 ? <p className="muted">Everywhere.</p> : (
        <ul className="plain">
          {w.notDeployedTo.map((d) => (
            <li key={d.definitionId + d.environment}>
              {d.definitionName} / <strong>{d.environment}</strong>: since <Link href={`/releases/${d.introduced.id}`}>{d.introduced.name}</Link>
              {d.current ? <>, runs <Link href={`/releases/${d.current.id}`}>{d.current.name}</Link></> : ', runs nothing yet'}
            </li>
          ))}
        </ul>
      )}
    </Page>
  );
}
