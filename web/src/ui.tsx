import { useEffect, useState, type ReactNode } from 'react';
import type { APIError } from './api';
import type { ApprovalStatus, DeploymentStatus, JobStatus, ManualInterventionStatus, ReleaseEnvironmentStatus, ReleaseStatus } from './gql/graphql';

// The statuses the API has (generated from its schema), and an agent's state:
// a status the schema no longer has is a compile error here.
type AnyStatus = ApprovalStatus | DeploymentStatus | JobStatus | ManualInterventionStatus | ReleaseEnvironmentStatus | ReleaseStatus | 'ONLINE' | 'OFFLINE' | 'DISABLED';

const statusClass: Partial<Record<AnyStatus, string>> = {
  SUCCEEDED: 'ok', PARTIALLY_SUCCEEDED: 'warn', APPROVED: 'ok', ONLINE: 'ok',
  FAILED: 'bad', REJECTED: 'bad', CANCELED: 'muted', TIMED_OUT: 'bad', LOST: 'bad', ABANDONED: 'muted',
  IN_PROGRESS: 'run', RUNNING: 'run', QUEUED: 'wait', ASSIGNED: 'run', SCHEDULED: 'wait',
  PENDING_APPROVAL: 'wait', PENDING_POST_APPROVAL: 'wait', PENDING: 'wait', NOT_STARTED: 'muted',
  EVALUATING_GATES: 'wait', EVALUATING_POST_GATES: 'wait', WAITING_FOR_INTERVENTION: 'wait',
  SKIPPED: 'muted', REASSIGNED: 'muted', OFFLINE: 'muted', ACTIVE: 'run',
};

// safeHref returns url when it is an absolute http(s) URL, else null: links that come from
// outside (build pages, commits, work items) are never followed as javascript:, data: or
// any other scheme.
export function safeHref(url?: string | null): string | null {
  if (!url) return null;
  try {
    const u = new URL(url);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : null;
  } catch {
    return null;
  }
}

// ExternalLink renders a link from outside as a link only when it is http(s); otherwise its
// text alone, inert.
export function ExternalLink({ url, children }: { url?: string | null; children: ReactNode }) {
  const href = safeHref(url);
  return href ? <a href={href} rel="noopener noreferrer nofollow">{children}</a> : <>{children}</>;
}

export function human(s: string): string {
  return s.charAt(0) + s.slice(1).toLowerCase().replace(/_/g, ' ');
}

// Status is a pill: colour and text (never colour alone).
export function Status({ status }: { status: string }) {
  return <span className={`pill ${statusClass[status as AnyStatus] ?? 'muted'}`}>{human(status)}</span>;
}

// useNow re-renders every 30 s so "3 min ago" stays true (a clock, not a poll).
export function useNow(): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 30_000);
    return () => clearInterval(t);
  }, []);
  return now;
}

export function Ago({ time }: { time?: string | null }) {
  const now = useNow();
  if (!time) return null;
  const t = new Date(time);
  const s = Math.max(0, Math.round((now - t.getTime()) / 1000));
  const text = s < 60 ? 'just now' : s < 3600 ? `${Math.floor(s / 60)} min ago` : s < 86400 ? `${Math.floor(s / 3600)} h ago` : `${Math.floor(s / 86400)} d ago`;
  return <time dateTime={time} title={t.toLocaleString()}>{text}</time>;
}

export function Loading({ what }: { what: string }) {
  return <p role="status" aria-live="polite">Loading {what}…</p>;
}

export function ErrorNote({ error }: { error?: APIError | Error | null }) {
  if (!error) return null;
  return <p role="alert" className="error">{error.message}</p>;
}

export function Page({ title, children, actions }: { title: ReactNode; children: ReactNode; actions?: ReactNode }) {
  useEffect(() => {
    if (typeof title === 'string') document.title = `${title} · Cairn`;
  }, [title]);
  return (
    <section className="page" aria-labelledby="page-title">
      <header className="page-head">
        <h1 id="page-title" tabIndex={-1}>{title}</h1>
        {actions}
      </header>
      {children}
    </section>
  );
}

export function edges<T>(conn?: { edges?: ({ node?: T | null } | null)[] | null } | null): T[] {
  return (conn?.edges ?? []).flatMap((e) => (e?.node ? [e.node] : []));
}
