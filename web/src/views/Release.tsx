// A release: its environments as cards in trigger order, each with its
// deployments and approvals; then artifacts, commits and work items. Every
// button comes from viewerCan (the server's own check of the mutation: the
// viewer's permissions and the state), never from a list of states here.
import { useState } from 'react';
import { useLive } from '../hooks';
import { mutate, type APIError } from '../api';
import { Ago, ErrorNote, ExternalLink, Loading, Page, Status, edges } from '../ui';
import { Link } from '../router';
import { ApprovalActions } from './ApprovalActions';
import { graphql } from '../gql';
import type { ReleaseQuery } from '../gql/graphql';
import { Blockers } from './Blockers';
import { ConfirmButton } from './ConfirmAction';
import { EnvActs } from './EnvActs';

const releaseQuery = graphql(`query Release($id: ID!) {
  release(id: $id) {
    id name status description createdBy createdAt reason
    viewerCan { abandon }
    definition {
      id name
      environments { name rank trigger { kind environments } }
    }
    artifacts { id alias type buildNumber branch commit buildURL primary }
    environments {
      id name rank status
      viewerCan { deploy redeploy rollback cancel }
      deployments {
        id attempt status statusReason operation requestedBy createdAt updatedAt deferredUntil
        approvals { id stage status approver approverKind decidedBy comment decidedAt rank viewerCan { approve reject reassign } }
        job { id status waitingReason agent { name } }
        manualInterventions { id taskName instructions status decidedBy comment timeoutAt onTimeout }
      }
    }
    commits(first: 50) { edges { node { id alias sha message author url } } }
    workItems(first: 50) { edges { node { id system externalID title type state url } } }
  }
  pendingManualInterventions { id }
}`);
const resumeM = graphql(`mutation ResumeIntervention($id: ID!, $c: String) { resumeManualIntervention(id: $id, comment: $c) { id status } }`);
const rejectInterventionM = graphql(`mutation RejectIntervention($id: ID!, $c: String) { rejectManualIntervention(id: $id, comment: $c) { id status } }`);

type ReleaseT = NonNullable<ReleaseQuery['release']>;
type EnvT = NonNullable<ReleaseT['environments']>[number];
type DeploymentT = NonNullable<EnvT['deployments']>[number];
type ApprovalT = NonNullable<DeploymentT['approvals']>[number];
type InterventionT = NonNullable<DeploymentT['manualInterventions']>[number];
type TriggerT = NonNullable<ReleaseT['definition']['environments']>[number]['trigger'];

export function Release({ id }: { id: string }) {
  const r = useLive(releaseQuery, { id }, (ev) => ev.releaseId === id);
  const rel = r.data?.release;
  if (!rel) return <Page title="Release">{r.loading ? <Loading what="the release" /> : <ErrorNote error={r.error ?? new Error('No such release.')} />}</Page>;
  const triggers = new Map((rel.definition.environments ?? []).map((e) => [e.name, e.trigger]));
  const actionable = new Set((r.data?.pendingManualInterventions ?? []).map((m) => m.id));
  const envs = [...(rel.environments ?? [])].sort((a, b) => a.rank - b.rank);
  const commits = edges(rel.commits);
  const items = edges(rel.workItems);
  return (
    <Page title={rel.name} actions={<><Status status={rel.status} />{rel.viewerCan.abandon && (
      <ConfirmButton className="danger" label="Abandon release" action={{ kind: 'abandon', releaseId: rel.id, releaseName: rel.name,
        pending: envs.filter((e) => e.status !== 'SUCCEEDED' && e.status !== 'PARTIALLY_SUCCEEDED').map((e) => e.name) }} />
    )}</>}>
      <p className="small">
        <Link href={`/definitions/${rel.definition.id}`}>{rel.definition.name}</Link> · {rel.reason.toLowerCase().replace(/_/g, ' ')} by {rel.createdBy}{' '}
        <Ago time={rel.createdAt} />
        {rel.description && <> · {rel.description}</>}
      </p>
      <ErrorNote error={r.error} />
      <h2>Environments</h2>
      <ol className="cards" aria-label="Environments in trigger order">
        {envs.map((e) => <EnvCard key={e.id} env={e} release={rel} trigger={triggers.get(e.name)} actionable={actionable} />)}
      </ol>
      <h2>Artifacts</h2>
      {(rel.artifacts ?? []).length === 0 ? <p className="muted">None.</p> : (
        <ul className="plain">
          {(rel.artifacts ?? []).map((a) => (
            <li key={a.id}>
              <strong>{a.alias}</strong>{a.primary && ' (primary)'}: build {a.buildURL ? <ExternalLink url={a.buildURL}>{a.buildNumber || '?'}</ExternalLink> : a.buildNumber}
              {a.branch && <> on <code>{a.branch}</code></>}{a.commit && <> at <code>{a.commit.slice(0, 10)}</code></>}
            </li>
          ))}
        </ul>
      )}
      <h2>Commits</h2>
      {commits.length === 0 ? <p className="muted">None recorded.</p> : (
        <ul className="plain">
          {commits.map((c) => (
            <li key={c.id}><code><ExternalLink url={c.url}>{c.sha.slice(0, 10)}</ExternalLink></code> {c.message.split('\n')[0]} <span className="small">— {c.author}</span></li>
          ))}
        </ul>
      )}
      <h2>Work items</h2>
      {items.length === 0 ? <p className="muted">None recorded.</p> : (
        <ul className="plain">
          {items.map((w) => (
            <li key={w.id}>
              <Link href={`/workitems/${encodeURIComponent(w.system)}/${encodeURIComponent(w.externalID)}`}>{w.externalID}</Link> {w.title} {w.state && <span className="small">({w.state})</span>}
            </li>
          ))}
        </ul>
      )}
    </Page>
  );
}

// EnvCard is one environment of the release: its latest deployment, its
// approvals and interventions, and the actions viewerCan allows.
function EnvCard({ env, release, trigger, actionable }: { env: EnvT; release: ReleaseT; trigger?: TriggerT; actionable: Set<string> }) {
  const deps = [...(env.deployments ?? [])].sort((a, b) => b.attempt - a.attempt);
  const latest = deps[0];
  const can = env.viewerCan;
  const deployLabel = can.rollback ? `Roll back ${env.name} to this release` : can.redeploy ? `Redeploy ${env.name}` : `Deploy ${env.name}`;
  const deployKind = can.rollback ? 'rollback' : can.redeploy ? 'redeploy' : 'deploy';
  const showDeploy = can.deploy || can.redeploy || can.rollback;
  const showCancel = !!(can.cancel && latest);
  // What this card offers itself, so that the Blockers panel above does not offer it again.
  const offered = { deploy: showDeploy, cancel: showCancel };
  const triggerText = !trigger ? '' : trigger.kind === 'AFTER_RELEASE' ? 'after release' : trigger.kind === 'MANUAL' ? 'manual' : `after ${trigger.environments.join(', ')}`;
  return (
    <li className="card" aria-labelledby={`env-${env.id}`} data-env={env.name}>
      <header>
        <h3 id={`env-${env.id}`}>{env.name}</h3>
        <Status status={env.status} />
      </header>
      <Blockers releaseId={release.id} environment={env.name} offered={offered} />
      <EnvActs releaseId={release.id} definitionId={release.definition.id} environment={env.name} deploymentId={latest?.id} />
      <p className="small">Trigger: {triggerText}</p>
      {latest && (
        <div>
          <p className="small">
            Attempt {latest.attempt} ({latest.operation.toLowerCase()}) by {latest.requestedBy} · <Status status={latest.status} /> <Ago time={latest.updatedAt} />
          </p>
          {latest.statusReason && <p className="small">{latest.statusReason}</p>}
          {latest.job?.status === 'QUEUED' && latest.job.waitingReason && <p className="small waiting">Waiting: {latest.job.waitingReason}</p>}
          {latest.job?.agent && <p className="small">Agent: {latest.job.agent.name}</p>}
          {latest.job && <p><Link href={`/deployments/${latest.id}`}>Log of attempt {latest.attempt}</Link></p>}
          <Approvals list={latest.approvals ?? []} env={env.name} />
          <Interventions list={latest.manualInterventions ?? []} env={env.name} actionable={actionable} />
        </div>
      )}
      <div className="buttons" data-actions="environment">
        {showDeploy && (
          <ConfirmButton label={deployLabel} action={{ kind: deployKind, releaseId: release.id, releaseName: release.name, environment: env.name }} />
        )}
        {showCancel && (
          <ConfirmButton className="danger" label="Cancel deployment"
            action={{ kind: 'cancel', deploymentId: latest!.id, releaseId: release.id, releaseName: release.name, environment: env.name }} />
        )}
      </div>
    </li>
  );
}

// Interventions lists a deployment's manual interventions; the viewer may
// resume or reject those in pendingManualInterventions (the engine's list of
// what the viewer may act on).
function Interventions({ list, env, actionable }: { list: InterventionT[]; env: string; actionable: Set<string> }) {
  if (list.length === 0) return null;
  return (
    <ul className="plain approvals" aria-label={`Manual interventions of ${env}`}>
      {list.map((m) => (
        <li key={m.id}>
          <span className="small">Manual intervention: {m.taskName}</span> <Status status={m.status} />
          {m.decidedBy && <span className="small"> by {m.decidedBy}{m.comment && `: “${m.comment}”`}</span>}
          {!m.decidedBy && m.status !== 'PENDING' && m.comment && <span className="small"> ({m.comment})</span>}
          {m.instructions && <p className="small instructions">{m.instructions}</p>}
          {m.status === 'PENDING' && <p className="small">Until {new Date(m.timeoutAt).toLocaleString()}, then {m.onTimeout === 'RESUME' ? 'resumed' : 'rejected'}.</p>}
          {m.status === 'PENDING' && actionable.has(m.id) && <InterventionActions id={m.id} label={`manual intervention ${m.taskName} of ${env}`} />}
        </li>
      ))}
    </ul>
  );
}

export function InterventionActions({ id, label }: { id: string; label: string }) {
  const [comment, setComment] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  async function run(doc: typeof resumeM | typeof rejectInterventionM) {
    setBusy(true);
    setError('');
    try {
      if (doc === resumeM) await mutate(resumeM, { id, c: comment || undefined });
      else await mutate(rejectInterventionM, { id, c: comment || undefined });
    } catch (e) {
      setError((e as APIError).message);
    } finally {
      setBusy(false);
    }
  }
  return (
    <form className="approval-actions" aria-label={`Act on ${label}`} onSubmit={(e) => e.preventDefault()}>
      <label htmlFor={`mi-${id}-comment`}>Comment</label>
      <input id={`mi-${id}-comment`} value={comment} onChange={(e) => setComment(e.target.value)} placeholder="optional" />
      <div className="buttons">
        <button type="button" className="primary" disabled={busy} onClick={() => run(resumeM)}>Resume</button>
        <button type="button" className="danger" disabled={busy} onClick={() => run(rejectInterventionM)}>Reject</button>
      </div>
      {error && <p role="alert" className="error">{error}</p>}
    </form>
  );
}

function Approvals({ list, env }: { list: ApprovalT[]; env: string }) {
  if (list.length === 0) return null;
  const sorted = [...list].sort((a, b) => (a.stage === b.stage ? a.rank - b.rank : a.stage === 'PRE' ? -1 : 1));
  return (
    <ul className="plain approvals" aria-label={`Approvals of ${env}`}>
      {sorted.map((a) => (
        <li key={a.id}>
          <span className="small">{a.stage === 'PRE' ? 'Pre' : 'Post'}-deployment: {a.approverKind === 'GROUP' ? `group ${a.approver}` : a.approver || 'automatic'}</span>{' '}
          <Status status={a.status} />
          {a.decidedBy && <span className="small"> by {a.decidedBy}{a.comment && `: “${a.comment}”`}</span>}
          {(a.viewerCan.approve || a.viewerCan.reject || a.viewerCan.reassign) && (
            <ApprovalActions approvalId={a.id} stage={a.stage} can={a.viewerCan}
              label={`${a.stage === 'PRE' ? 'pre' : 'post'}-deployment approval of ${env}`} />
          )}
        </li>
      ))}
    </ul>
  );
}
