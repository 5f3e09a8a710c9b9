import { useLive } from '../hooks';
import { Ago, ErrorNote, Loading, Page } from '../ui';
import { Link } from '../router';
import { ApprovalActions } from './ApprovalActions';
import { graphql } from '../gql';

export const pendingQuery = graphql(`query MyApprovals {
  pendingApprovals {
    id stage approver approverKind createdAt dueAt viewerCan { approve reject reassign }
    deployment { id environmentName requestedBy release { id name definition { id name } } }
  }
}`);

export const isApprovalEvent = (ev: { __typename: string }) => ev.__typename.startsWith('Approval') || ev.__typename === 'DeploymentFinishedEvent';

export function MyApprovals() {
  const q = useLive(pendingQuery, {}, isApprovalEvent);
  const list = q.data?.pendingApprovals ?? [];
  return (
    <Page title="My pending approvals">
      <ErrorNote error={q.error} />
      {q.loading && !q.data ? <Loading what="approvals" /> : list.length === 0 ? <p>Nothing waits on you.</p> : (
        <ul className="cards">
          {list.map((a) => {
            const d = a.deployment;
            const label = `${d.release.name} to ${d.environmentName}`;
            return (
              <li className="card" key={a.id} aria-label={label}>
                <header>
                  <h2><Link href={`/releases/${d.release.id}`}>{d.release.name}</Link> → {d.environmentName}</h2>
                </header>
                <p className="small">
                  {d.release.definition.name} · {a.stage === 'PRE' ? 'pre' : 'post'}-deployment · requested by {d.requestedBy} <Ago time={a.createdAt} />
                  {a.approverKind === 'GROUP' && <> · for group {a.approver}</>}
                  {a.dueAt && <> · times out {new Date(a.dueAt).toLocaleString()}</>}
                </p>
                <ApprovalActions approvalId={a.id} stage={a.stage} label={label} can={a.viewerCan} />
              </li>
            );
          })}
        </ul>
      )}
    </Page>
  );
}
