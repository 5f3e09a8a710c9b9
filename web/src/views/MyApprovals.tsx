import { useLive } from '../hooks';
import { Ago, ErrorNote, Loading, Page } from '../ui';
import { Link } from '../router';
import { ApprovalActions } from './ApprovalActions';
import { InterventionActions } from './Release';
import { graphql } from '../gql';

export const pendingQuery = graphql(`query MyApprovals {
  pendingApprovals {
    id stage approver approverKind createdAt dueAt viewerCan { approve reject reassign }
    deployment { id environmentName requestedBy release { id name definition { id name } } }
  }
  pendingManualInterventions {
    id taskName instructions createdAt timeoutAt onTimeout
    deployment { id environmentName release { id name definition { id name } } }
  }
}`);

// The inbox holds approvals and manual interventions: their events (and a deployment's end,
// which cancels what it left pending) change it.
export const isApprovalEvent = (ev: { __typename: string }) =>
  ev.__typename.startsWith('Approval') || ev.__typename.startsWith('ManualIntervention') || ev.__typename === 'DeploymentFinishedEvent';

export function MyApprovals() {
  const q = useLive(pendingQuery, {}, isApprovalEvent);
  const list = q.data?.pendingApprovals ?? [];
  const interventions = q.data?.pendingManualInterventions ?? [];
  return (
    <Page title="My pending approvals">
      <ErrorNote error={q.error} />
      {interventions.length > 0 && (
        <>
          <h2>Manual interventions</h2>
          <ul className="cards" data-inbox="interventions">
            {interventions.map((m) => {
              const d = m.deployment;
              const label = `manual intervention ${m.taskName} of ${d.release.name} in ${d.environmentName}`;
              return (
                <li className="card" key={m.id} aria-label={label}>
                  <header>
                    <h3><Link href={`/releases/${d.release.id}`}>{d.release.name}</Link> → {d.environmentName}: {m.taskName}</h3>
                  </header>
                  <p className="small">
                    {d.release.definition.name} · manual intervention <Ago time={m.createdAt} /> · until {new Date(m.timeoutAt).toLocaleString()}, then {m.onTimeout === 'RESUME' ? 'resumed' : 'rejected'}
                  </p>
                  {m.instructions && <p className="small instructions">{m.instructions}</p>}
                  <InterventionActions id={m.id} label={label} />
                </li>
              );
            })}
          </ul>
          {list.length > 0 && <h2>Approvals</h2>}
        </>
      )}
      {q.loading && !q.data ? <Loading what="approvals" /> : list.length === 0 ? (interventions.length === 0 && <p>Nothing waits on you.</p>) : (
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
