// Deploy, redeploy, roll back, cancel and abandon ask first: a comment (kept
// with the deployment and in the audit log) and what will change, read from
// the server (changesSince: the releases, commits and work items the
// environment gains, or loses on a rollback) rather than guessed here.
import { useEffect, useState, type FormEvent, type ReactNode } from 'react';
import { mutate, query, type APIError } from '../api';
import { FieldError, Modal, fieldOf, invalid } from '../dialog';
import { ErrorNote, ExternalLink, Loading } from '../ui';
import { Link } from '../router';
import { graphql } from '../gql';
import type { ChangesQuery } from '../gql/graphql';

const changesQuery = graphql(`query Changes($rel: ID!, $env: String!) {
  changesSince(releaseId: $rel, environment: $env) {
    current { id name }
    releases { id name }
    commits { id sha message author url }
    workItems { id system externalID title state }
    removedReleases { id name }
    removedCommits { id sha message author url }
    removedWorkItems { id system externalID title state }
  }
}`);
const confirmDeployM = graphql(`mutation ConfirmDeploy($input: DeployEnvironmentInput!) { deployEnvironment(input: $input) { id } }`);
const confirmCancelM = graphql(`mutation ConfirmCancel($id: ID!, $c: String) { cancelDeployment(deploymentId: $id, comment: $c) { id } }`);
const confirmAbandonM = graphql(`mutation ConfirmAbandon($id: ID!, $c: String) { abandonRelease(releaseId: $id, comment: $c) { id } }`);

type Changes = ChangesQuery['changesSince'];

// The action a person confirms: what it is called, and how it runs with the comment.
export type Action =
  | { kind: 'deploy' | 'redeploy' | 'rollback'; releaseId: string; releaseName: string; environment: string }
  | { kind: 'cancel'; deploymentId: string; releaseId: string; releaseName: string; environment: string }
  | { kind: 'abandon'; releaseId: string; releaseName: string; pending: string[] };

const verbs = { deploy: 'Deploy', redeploy: 'Redeploy', rollback: 'Roll back', cancel: 'Cancel deployment', abandon: 'Abandon release' };

export function actionTitle(a: Action): string {
  switch (a.kind) {
    case 'deploy': return `Deploy ${a.releaseName} to ${a.environment}`;
    case 'redeploy': return `Redeploy ${a.releaseName} to ${a.environment}`;
    case 'rollback': return `Roll back ${a.environment} to ${a.releaseName}`;
    case 'cancel': return `Cancel the deployment of ${a.releaseName} to ${a.environment}`;
    case 'abandon': return `Abandon ${a.releaseName}`;
  }
}

// ConfirmButton is a button that opens the confirmation of action.
export function ConfirmButton({ action, label, className, onDone }: { action: Action; label: ReactNode; className?: string; onDone?: () => void }) {
  const [open, setOpen] = useState(false);
  return (
    <>
      <button type="button" className={className} data-confirm={action.kind} onClick={() => setOpen(true)}>{label}</button>
      {open && <ConfirmDialog action={action} onClose={() => setOpen(false)} onDone={onDone} />}
    </>
  );
}

export function ConfirmDialog({ action, onClose, onDone }: { action: Action; onClose: () => void; onDone?: () => void }) {
  const [changes, setChanges] = useState<Changes>();
  const [changesError, setChangesError] = useState<APIError>();
  const [comment, setComment] = useState('');
  const [error, setError] = useState<APIError | null>(null);
  const [busy, setBusy] = useState(false);
  const env = action.kind === 'abandon' ? '' : action.environment;

  useEffect(() => {
    if (action.kind === 'abandon') return;
    let live = true;
    query(changesQuery, { rel: action.releaseId, env }).then((d) => live && setChanges(d.changesSince), (e: APIError) => live && setChangesError(e));
    return () => {
      live = false;
    };
  }, [action.kind, action.releaseId, env]);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const c = comment.trim() || undefined;
    try {
      if (action.kind === 'cancel') await mutate(confirmCancelM, { id: action.deploymentId, c });
      else if (action.kind === 'abandon') await mutate(confirmAbandonM, { id: action.releaseId, c });
      else await mutate(confirmDeployM, { input: { releaseId: action.releaseId, environment: action.environment, comment: c } });
      onClose();
      onDone?.();
    } catch (err) {
      setError(err as APIError);
    } finally {
      setBusy(false);
    }
  };
  const danger = action.kind === 'cancel' || action.kind === 'abandon' || action.kind === 'rollback';
  return (
    <Modal title={actionTitle(action)} onClose={onClose} wide={action.kind !== 'cancel' && action.kind !== 'abandon'}>
      <form onSubmit={submit} aria-label={actionTitle(action)} data-confirm-dialog={action.kind}>
        <section className="changes" aria-label="What will change">
          <WhatChanges action={action} changes={changes} error={changesError} />
        </section>
        <div className="field">
          <label htmlFor="confirm-comment">Comment <span className="small">(kept with the {action.kind === 'abandon' ? 'release' : 'deployment'} and in the audit log)</span></label>
          <textarea id="confirm-comment" value={comment} disabled={busy} onChange={(e) => setComment(e.target.value)} {...invalid(error, 'comment', 'confirm-comment-error')} />
          <FieldError id="confirm-comment-error" error={error} field="comment" />
        </div>
        {error && !fieldOf(error, 'comment') && <ErrorNote error={error} />}
        <div className="buttons">
          <button type="button" onClick={onClose} disabled={busy}>Back</button>
          <button type="submit" className={danger ? 'danger' : 'primary'} disabled={busy}>{verbs[action.kind]}</button>
        </div>
      </form>
    </Modal>
  );
}

function WhatChanges({ action, changes, error }: { action: Action; changes?: Changes; error?: APIError }) {
  if (action.kind === 'abandon') {
    return (
      <p>Nothing more of {action.releaseName} deploys; its pending approvals are canceled.
        {action.pending.length > 0 && <> It never reached {action.pending.join(', ')}.</>}</p>
    );
  }
  if (error) return <ErrorNote error={error} />;
  if (!changes) return <Loading what="what will change" />;
  const runs = changes.current ? <Link href={`/releases/${changes.current.id}`}>{changes.current.name}</Link> : 'nothing yet';
  if (action.kind === 'cancel') {
    return <p>The deployment of {action.releaseName} to {action.environment} stops; {action.environment} keeps running {runs}.</p>;
  }
  const same = changes.current?.id === action.releaseId;
  return (
    <>
      <p>{action.environment} runs {runs}{same ? '; the same release is deployed again: nothing is added or taken out.' : '.'}</p>
      {changes.releases.length > 0 && (
        <ChangeList title={`Added: ${changes.releases.map((r) => r.name).join(', ')}`} commits={changes.commits} items={changes.workItems} kind="added" />
      )}
      {changes.removedReleases.length > 0 && (
        <ChangeList title={`Taken out: ${changes.removedReleases.map((r) => r.name).join(', ')}`} commits={changes.removedCommits} items={changes.removedWorkItems} kind="removed" />
      )}
      {!same && changes.releases.length === 0 && changes.removedReleases.length === 0 && <p className="small">No commits or work items change.</p>}
    </>
  );
}

function ChangeList({ title, commits, items, kind }: { title: string; commits: Changes['commits']; items: Changes['workItems']; kind: 'added' | 'removed' }) {
  const sign = kind === 'added' ? '+' : '−';
  return (
    <div data-changes={kind}>
      <h3>{title}</h3>
      {commits.length === 0 && items.length === 0 ? <p className="small">No commits or work items recorded.</p> : (
        <ul className={kind}>
          {commits.map((c) => (
            <li key={c.id}><span aria-hidden="true">{sign} </span><code><ExternalLink url={c.url}>{c.sha.slice(0, 10)}</ExternalLink></code> {c.message.split("\n")[0]}{c.author && <span className="small"> — {c.author}</span>}</li>
          ))}
          {items.map((w) => (
            <li key={w.id}><span aria-hidden="true">{sign} </span>
              <Link href={`/workitems/${encodeURIComponent(w.system)}/${encodeURIComponent(w.externalID)}`}>{w.externalID}</Link> {w.title}{w.state && <span className="small"> ({w.state})</span>}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
