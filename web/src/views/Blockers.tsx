// "Why is this release not in <environment> yet?": the server's blockers
// (whyNotDeployed) in order, each with who may act and the actions the
// viewer may take, which the server judges by the same checks as the
// mutations. Nothing is shown once the environment is deployed; the panel
// keeps no list of statuses of its own. Deploy and cancel are offered once:
// when the release's environment card offers them (they ask for a comment
// and say what changes) the panel points there instead of repeating them.
// Its other buttons act at once, without a comment ("Approve now"); the
// card's forms below take comments and dates.
import { Fragment, useState } from 'react';
import { useLive } from '../hooks';
import { mutate, type APIError } from '../api';
import { Ago, ErrorNote, human } from '../ui';
import { graphql } from '../gql';
import type { WhyQuery } from '../gql/graphql';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';

const whyQuery = graphql(`query Why($rel: ID!, $env: String!) {
  whyNotDeployed(releaseId: $rel, environment: $env) {
    releaseName environment status deployed
    blockers {
      kind message since until stage whoCanAct viewerActions
      deployment { id }
      approvals { approval { id approver approverKind } viewerCanDecide viewerCanReassign }
      gateSampleCount lastFailingSample { number takenAt results { gate passed detail } }
      freezeWindows { id name }
      queuePosition maxParallel queueAhead { releaseName } queueRunning { releaseName }
      job { id demands waitingReason }
      intervention { id taskName instructions }
      environments newerRelease { id name }
    }
  }
}`);

const blockerDeployM = graphql(`mutation BlockerDeploy($input: DeployEnvironmentInput!) { deployEnvironment(input: $input) { id } }`);
const blockerApproveM = graphql(`mutation BlockerApprove($input: ApprovalDecisionInput!) { approve(input: $input) { id } }`);
const blockerRejectM = graphql(`mutation BlockerReject($input: ApprovalDecisionInput!) { reject(input: $input) { id } }`);
const blockerIgnoreGatesM = graphql(`mutation BlockerIgnoreGates($id: ID!) { ignoreGates(deploymentId: $id) { id } }`);
const blockerResumeM = graphql(`mutation BlockerResume($id: ID!) { resumeManualIntervention(id: $id) { id } }`);
const blockerRejectInterventionM = graphql(`mutation BlockerRejectIntervention($id: ID!) { rejectManualIntervention(id: $id) { id } }`);
const blockerCancelM = graphql(`mutation BlockerCancel($id: ID!) { cancelDeployment(deploymentId: $id) { id } }`);

type WhyT = WhyQuery['whyNotDeployed'];
type BlockerT = WhyT['blockers'][number];

// titles name each kind for people.
const titles: Partial<Record<BlockerT['kind'], string>> = {
  RELEASE_INACTIVE: 'Release not active',
  TRIGGER_NOT_MET: 'Not triggered',
  UPSTREAM_FAILED: 'Upstream environment did not succeed',
  FORWARD_ONLY: 'A newer release is there',
  PENDING_APPROVAL: 'Waiting for approval',
  GATES: 'Gates',
  DEFERRED: 'Deferred',
  FROZEN: 'Freeze window',
  QUEUE: 'In the queue',
  WAITING_FOR_AGENT: 'Waiting for an agent',
  MANUAL_INTERVENTION: 'Manual intervention',
  RUNNING: 'Deploying now',
  DEPLOYMENT_ENDED: 'Last attempt ended',
};

// Offered is what the card around the panel offers itself.
export type Offered = { deploy: boolean; cancel: boolean };
const nothingOffered: Offered = { deploy: false, cancel: false };

export function Blockers({ releaseId, environment, offered = nothingOffered }: { releaseId: string; environment: string; offered?: Offered }) {
  const r = useLive(whyQuery, { rel: releaseId, env: environment }, (ev) => ev.releaseId === releaseId || !!ev.type?.startsWith('freeze.'));
  const why = r.data?.whyNotDeployed;
  if (r.error && !why) return <ErrorNote error={r.error} />;
  if (!why || why.deployed || why.blockers.length === 0) return null;
  const id = `why-${releaseId}-${environment.replace(/[^A-Za-z0-9_-]/g, '_')}`;
  return (
    <section className="blockers" aria-labelledby={id} data-blockers={environment}>
      <h4 id={id}>Why {why.releaseName} is not in {why.environment} yet</h4>
      <ol>
        {why.blockers.map((b, i) => <BlockerItem key={`${b.kind}-${i}`} b={b} releaseId={releaseId} environment={environment} reload={r.reload} offered={offered} />)}
      </ol>
      <ErrorNote error={r.error} />
    </section>
  );
}

function BlockerItem({ b, releaseId, environment, reload, offered }: { b: BlockerT; releaseId: string; environment: string; reload: () => void; offered: Offered }) {
  const [error, setError] = useState<APIError | null>(null);
  const [busy, setBusy] = useState(false);
  const all = new Set(b.viewerActions);
  // The card's own buttons and forms stand for these.
  const elsewhere: string[] = [];
  const can = new Set<string>([...all].filter((a) => {
    const onCard = (a === 'DEPLOY' && offered.deploy) || (a === 'CANCEL_DEPLOYMENT' && offered.cancel);
    if (onCard) elsewhere.push(a);
    return !onCard;
  }));
  const decide = b.approvals.filter((a) => a.viewerCanDecide);
  async function run<D, V extends Record<string, unknown>>(doc: TypedDocumentNode<D, V>, vars: V) {
    setBusy(true);
    setError(null);
    try {
      await mutate(doc, vars);
      reload();
    } catch (e) {
      setError(e as APIError);
    } finally {
      setBusy(false);
    }
  }
  const deploy = (overrideFreeze: boolean) => run(blockerDeployM,
    { input: { releaseId, environment, ...(overrideFreeze ? { overrideFreeze: true } : {}) } });
  const stage = b.stage ? ` (${b.stage === 'PRE' ? 'pre-deployment' : 'post-deployment'})` : '';
  const failing = b.lastFailingSample?.results.filter((x) => !x.passed) ?? [];
  return (
    <li className={`blocker blocker-${b.kind.toLowerCase()}`} data-kind={b.kind}>
      <strong>{titles[b.kind] ?? human(b.kind)}{stage}</strong>
      <p className="small blocker-message">{b.message}</p>
      {(b.since || b.until) && (
        <p className="small">
          {b.since && <>since <Ago time={b.since} /></>}
          {b.since && b.until && ' · '}
          {b.until && <>until <time dateTime={b.until}>{new Date(b.until).toLocaleString()}</time></>}
        </p>
      )}
      {failing.length > 0 && (
        <ul className="plain small" aria-label={`Gates failing in sample ${b.lastFailingSample!.number}`}>
          {failing.map((x) => <li key={x.gate}>{x.gate}: {x.detail}</li>)}
        </ul>
      )}
      {b.whoCanAct.length > 0 && <p className="small">Who can act: {b.whoCanAct.join(', ')}</p>}
      {(decide.length > 0 || ['DEPLOY', 'DEPLOY_THROUGH_FREEZE', 'IGNORE_GATES', 'RESUME_INTERVENTION', 'REJECT_INTERVENTION', 'CANCEL_DEPLOYMENT'].some((a) => can.has(a))) && (
        <div className="buttons" role="group" aria-label={`What you may do: ${titles[b.kind] ?? human(b.kind)}`}>
          {can.has('DEPLOY') && <button type="button" className="primary" disabled={busy} onClick={() => deploy(false)}>Deploy to {environment}</button>}
          {can.has('DEPLOY_THROUGH_FREEZE') && <button type="button" className="danger" disabled={busy} onClick={() => deploy(true)}>Deploy through the freeze</button>}
          {decide.map((a) => (
            <Fragment key={a.approval.id}>
              <button type="button" className="primary" disabled={busy} onClick={() => run(blockerApproveM, { input: { approvalId: a.approval.id } })}>
                Approve now{b.approvals.length > 1 ? ` (${a.approval.approver})` : ''}
              </button>
              <button type="button" className="danger" disabled={busy} onClick={() => run(blockerRejectM, { input: { approvalId: a.approval.id } })}>
                Reject now{b.approvals.length > 1 ? ` (${a.approval.approver})` : ''}
              </button>
            </Fragment>
          ))}
          {can.has('IGNORE_GATES') && b.deployment && (
            <button type="button" disabled={busy} onClick={() => run(blockerIgnoreGatesM, { id: b.deployment!.id })}>Ignore gates</button>
          )}
          {can.has('RESUME_INTERVENTION') && b.intervention && (
            <button type="button" className="primary" disabled={busy} onClick={() => run(blockerResumeM, { id: b.intervention!.id })}>Resume now</button>
          )}
          {can.has('REJECT_INTERVENTION') && b.intervention && (
            <button type="button" className="danger" disabled={busy} onClick={() => run(blockerRejectInterventionM, { id: b.intervention!.id })}>Reject intervention</button>
          )}
          {can.has('CANCEL_DEPLOYMENT') && b.deployment && (
            <button type="button" className="danger" disabled={busy} onClick={() => run(blockerCancelM, { id: b.deployment!.id })}>Cancel deployment</button>
          )}
        </div>
      )}
      {elsewhere.length > 0 && <p className="small" data-elsewhere={elsewhere.join(' ')}>You may {elsewhereText(elsewhere)} below, on this card.</p>}
      {can.has('REASSIGN') && !all.has('APPROVE') && <p className="small">You may reassign the approval (below).</p>}
      <ErrorNote error={error} />
    </li>
  );
}

// elsewhereText names the actions the card offers instead of the panel.
function elsewhereText(actions: string[]): string {
  const names: Record<string, string> = { DEPLOY: 'deploy', CANCEL_DEPLOYMENT: 'cancel the deployment' };
  const list = [...new Set(actions.map((a) => names[a] ?? a.toLowerCase()))];
  return list.length === 1 ? list[0] : `${list.slice(0, -1).join(', ')} or ${list[list.length - 1]}`;
}
