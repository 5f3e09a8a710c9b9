// A release: its environments as cards in trigger order, each with its
// deployments and approvals; then artifacts, commits and work items.
import { useState } from 'react';
import { useLive } from '../hooks';
import { mutate, type APIError } from '../api';
import { Ago, ErrorNote, ExternalLink, Loading, Page, Status, edges } from '../ui';
import { Link } from '../router';
import type { Can, DefinitionCan, EnvironmentCan, Scope } from '../permissions';
import { ApprovalActions } from './ApprovalActions';
import { Blockers } from './Blockers';

const releaseQuery = `query Release($id: ID!) {
  release(id: $id) {
    id name status description createdBy createdAt reason
    definition {
      id name viewerCan { manageDeployments manageApprovals }
      environments { name rank trigger { kind environments } viewerCan { manageDeployments manageApprovals } }
    }
    artifacts { id alias type buildNumber branch commit buildURL primary }
    environments {
      id name rank status
      deployments {
        id attempt status statusReason operation requestedBy createdAt updatedAt deferredUntil
        approvals { id stage status approver approverKind decidedBy comment decidedAt rank }
        job { id status waitingReason agent { name } }
        manualInterventions { id taskName instructions status decidedBy comment timeoutAt onTimeout }
      }
    }
    commits(first: 50) { edges { node { id alias sha message author url } } }
    workItems(first: 50) { edges { node { id system externalID title type state url } } }
  }
  pendingApprovals { id }
  pendingManualInterventions { id }
}`;

type ApprovalT = { id: string; stage: string; status: string; approver: string; approverKind: string | null; decidedBy: string | null; comment: string; decidedAt: string | null; rank: number };
type DeploymentT = {
  id: string; attempt: number; status: string; statusReason: string; operation: string; requestedBy: string;
  createdAt: string; updatedAt: string; deferredUntil: string | null;
  approvals: ApprovalT[] | null;
  job: { id: string; status: string; waitingReason: string; agent: { name: string } | null } | null;
  manualInterventions: InterventionT[] | null;
};
type InterventionT = { id: string; taskName: string; instructions: string; status: string; decidedBy: string | null; comment: string; timeoutAt: string; onTimeout: string };
type EnvT = { id: string; name: string; rank: number; status: string; deployments: DeploymentT[] | null };
type ReleaseT = {
  id: string; name: string; status: string; description: string; createdBy: string; createdAt: string; reason: string;
  definition: {
    id: string; name: string; viewerCan: DefinitionCan;
    environments: { name: string; rank: number; trigger: { kind: string; environments: string[] }; viewerCan: EnvironmentCan }[] | null;
  };
  artifacts: { id: string; alias: string; type: string; buildNumber: string; branch: string; commit: string; buildURL: string; primary: boolean }[] | null;
  environments: EnvT[] | null;
  commits: unknown; workItems: unknown;
};

export function Release({ id, can }: { id: string; can: (pending: Set<string>, scope?: Scope) => Can }) {
  const r = useLive<{ release: ReleaseT | null; pendingApprovals: { id: string }[]; pendingManualInterventions: { id: string }[] }>(releaseQuery, { id }, (ev) => ev.releaseId === id);
  const rel = r.data?.release;
  if (!rel) return <Page title="Release">{r.loading ? <Loading what="the release" /> : <ErrorNote error={r.error ?? new Error('No such release.')} />}</Page>;
  const perms = can(new Set((r.data?.pendingApprovals ?? []).map((a) => a.id)), {
    definition: rel.definition.viewerCan,
    environments: new Map((rel.definition.environments ?? []).map((e) => [e.name, e.viewerCan])),
  });
  const triggers = new Map((rel.definition.environments ?? []).map((e) => [e.name, e.trigger]));
  const actionable = new Set((r.data?.pendingManualInterventions ?? []).map((m) => m.id));
  const envs = [...(rel.environments ?? [])].sort((a, b) => a.rank - b.rank);
  const commits = edges<any>(rel.commits as any);
  const items = edges<any>(rel.workItems as any);
  return (
    <Page title={rel.name} actions={<><Status status={rel.status} />{perms.abandonRelease && rel.status === 'ACTIVE' && <Abandon id={rel.id} />}</>}>
      <p className="small">
        <Link href={`/definitions/${rel.definition.id}`}>{rel.definition.name}</Link> · {rel.reason.toLowerCase().replace(/_/g, ' ')} by {rel.createdBy}{' '}
        <Ago time={rel.createdAt} />
        {rel.description && <> · {rel.description}</>}
      </p>
      <ErrorNote error={r.error} />
      <h2>Environments</h2>
      <ol className="cards" aria-label="Environments in trigger order">
        {envs.map((e) => <EnvCard key={e.id} env={e} release={rel} trigger={triggers.get(e.name)} can={perms} actionable={actionable} />)}
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

function Abandon({ id }: { id: string }) {
  const [error, setError] = useState<APIError | null>(null);
  return (
    <>
      <button type="button" className="danger" onClick={async () => {
        if (!confirm('Abandon this release? Its pending approvals are canceled and nothing more deploys.')) return;
        setError(null);
        try {
          await mutate(`mutation($id: ID!) { abandonRelease(releaseId: $id) { id } }`, { id });
        } catch (e) {
          setError(e as APIError);
        }
      }}>Abandon release</button>
      <ErrorNote error={error} />
    </>
  );
}

function EnvCard({ env, release, trigger, can, actionable }: { env: EnvT; release: ReleaseT; trigger?: { kind: string; environments: string[] }; can: Can; actionable: Set<string> }) {
  const deps = [...(env.deployments ?? [])].sort((a, b) => b.attempt - a.attempt);
  const latest = deps[0];
  const [error, setError] = useState<APIError | null>(null);
  const active = latest && ['PENDING_APPROVAL', 'EVALUATING_GATES', 'SCHEDULED', 'QUEUED', 'IN_PROGRESS', 'PENDING_POST_APPROVAL', 'EVALUATING_POST_GATES'].includes(latest.status);
  async function run(doc: string, vars: Record<string, unknown>) {
    setError(null);
    try {
      await mutate(doc, vars);
    } catch (e) {
      setError(e as APIError);
    }
  }
  const triggerText = !trigger ? '' : trigger.kind === 'AFTER_RELEASE' ? 'after release' : trigger.kind === 'MANUAL' ? 'manual' : `after ${trigger.environments.join(', ')}`;
  return (
    <li className="card" aria-labelledby={`env-${env.id}`} data-env={env.name}>
      <header>
        <h3 id={`env-${env.id}`}>{env.name}</h3>
        <Status status={env.status} />
      </header>
      <Blockers releaseId={release.id} environment={env.name} />
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
          <Approvals list={latest.approvals ?? []} env={env.name} can={can} />
          <Interventions list={latest.manualInterventions ?? []} env={env.name} actionable={actionable} />
        </div>
      )}
      <div className="buttons">
        {can.deploy(env.name) && release.status === 'ACTIVE' && !active && (
          <button type="button" onClick={() => run(`mutation($input: DeployEnvironmentInput!) { deployEnvironment(input: $input) { id } }`, { input: { releaseId: release.id, environment: env.name } })}>
            {latest ? 'Redeploy' : 'Deploy'} {env.name}
          </button>
        )}
        {can.cancelDeployment(env.name) && active && (
          <button type="button" className="danger" onClick={() => run(`mutation($id: ID!) { cancelDeployment(deploymentId: $id) { id } }`, { id: latest!.id })}>Cancel deployment</button>
        )}
      </div>
      <ErrorNote error={error} />
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

function InterventionActions({ id, label }: { id: string; label: string }) {
  const [comment, setComment] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  async function run(field: string) {
    setBusy(true);
    setError('');
    try {
      await mutate(`mutation($id: ID!, $c: String) { ${field}(id: $id, comment: $c) { id status } }`, { id, c: comment || undefined });
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
        <button type="button" className="primary" disabled={busy} onClick={() => run('resumeManualIntervention')}>Resume</button>
        <button type="button" className="danger" disabled={busy} onClick={() => run('rejectManualIntervention')}>Reject</button>
      </div>
      {error && <p role="alert" className="error">{error}</p>}
    </form>
  );
}

function Approvals({ list, env, can }: { list: ApprovalT[]; env: string; can: Can }) {
  if (list.length === 0) return null;
  const sorted = [...list].sort((a, b) => (a.stage === b.stage ? a.rank - b.rank : a.stage === 'PRE' ? -1 : 1));
  return (
    <ul className="plain approvals" aria-label={`Approvals of ${env}`}>
      {sorted.map((a) => (
        <li key={a.id}>
          <span className="small">{a.stage === 'PRE' ? 'Pre' : 'Post'}-deployment: {a.approverKind === 'GROUP' ? `group ${a.approver}` : a.approver || 'automatic'}</span>{' '}
          <Status status={a.status} />
          {a.decidedBy && <span className="small"> by {a.decidedBy}{a.comment && `: “${a.comment}”`}</span>}
          {a.status === 'PENDING' && (can.decideApproval(a.id) || can.reassignApproval(a.id, env)) && (
            <ApprovalActions approvalId={a.id} stage={a.stage} decide={can.decideApproval(a.id)} reassign={can.reassignApproval(a.id, env)}
              label={`${a.stage === 'PRE' ? 'pre' : 'post'}-deployment approval of ${env}`} />
          )}
        </li>
      ))}
    </ul>
  );
}
