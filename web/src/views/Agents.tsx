import { useLive } from '../hooks';
import { Ago, ErrorNote, Loading, Page, Status, edges } from '../ui';
import { Link } from '../router';
import { graphql } from '../gql';

const agentsQuery = graphql(`query Agents {
  agents(first: 200, orderBy: {field: NAME, direction: ASC}) {
    edges { node { id name version enabled online lastSeenAt maxJobs pool { name } capabilities } }
  }
  releases(first: 50, where: {hasEnvironmentsWith: {status: QUEUED}}) {
    edges { node { id name environments { name status deployments { id status job { status waitingReason demands queuedAt } } } } }
  }
}`);

export function Agents() {
  const q = useLive(agentsQuery, {}, (ev) => ev.__typename === 'AgentStatusEvent' || ev.__typename === 'EnvironmentStatusChangedEvent');
  const agents = edges(q.data?.agents);
  const waiting = edges(q.data?.releases).flatMap((r) =>
    (r.environments ?? []).flatMap((e) => (e.deployments ?? []).flatMap((d) => (d.job?.status === 'QUEUED' ? [{ r, e, d, job: d.job }] : []))));
  return (
    <Page title="Agents">
      <ErrorNote error={q.error} />
      {q.loading && !q.data ? <Loading what="agents" /> : (
        <>
          {agents.length === 0 ? <p>No agents registered.</p> : (
            <div className="scroll-x" role="region" aria-label="Agents" tabIndex={0}>
              <table>
                <thead><tr><th scope="col">Agent</th><th scope="col">State</th><th scope="col">Pool</th><th scope="col">Version</th><th scope="col">Last seen</th><th scope="col">Capabilities</th></tr></thead>
                <tbody>
                  {agents.map((a) => (
                    <tr key={a.id} data-agent={a.name}>
                      <th scope="row">{a.name}</th>
                      <td><Status status={!a.enabled ? 'DISABLED' : a.online ? 'ONLINE' : 'OFFLINE'} /></td>
                      <td>{a.pool?.name}</td>
                      <td>{a.version}</td>
                      <td><Ago time={a.lastSeenAt} /></td>
                      <td className="small">{Object.entries(a.capabilities ?? {}).slice(0, 12).map(([k, v]) => `${k}=${v}`).join(' · ')}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          <h2>Jobs waiting for an agent</h2>
          {waiting.length === 0 ? <p className="muted">None.</p> : (
            <ul className="plain">
              {waiting.map(({ r, e, d, job }) => (
                <li key={d.id}>
                  <Link href={`/releases/${r.id}`}>{r.name}</Link> → {e.name}: <span className="waiting">{job.waitingReason || 'waiting'}</span>
                  {(job.demands ?? []).length > 0 && <span className="small"> (demands {(job.demands ?? []).join(', ')})</span>}
                </li>
              ))}
            </ul>
          )}
        </>
      )}
    </Page>
  );
}
