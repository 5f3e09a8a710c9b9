import { useLive } from '../hooks';
import { ErrorNote, Loading, Page, edges } from '../ui';
import { graphql } from '../gql';

const auditQuery = graphql(`query Audit { auditEvents(first: 100) { edges { node { id sequence time actor onBehalfOf action targetType targetID } } } }`);

export function Audit() {
  const q = useLive(auditQuery, {}, () => true);
  const list = edges(q.data?.auditEvents);
  return (
    <Page title="Audit log">
      <ErrorNote error={q.error} />
      {q.loading && !q.data ? <Loading what="the audit log" /> : (
        <div className="scroll-x" role="region" aria-label="Audit events" tabIndex={0}>
          <table>
            <thead><tr><th scope="col">#</th><th scope="col">Time</th><th scope="col">Actor</th><th scope="col">Action</th><th scope="col">Target</th></tr></thead>
            <tbody>
              {list.map((e) => (
                <tr key={e.id}>
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
    </Page>
  );
}
