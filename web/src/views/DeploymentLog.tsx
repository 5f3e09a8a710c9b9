// A deployment's log, streamed over the deploymentLog subscription: stored
// lines first, then live ones. Follow keeps the newest line in view; search
// filters lines; download fetches the whole log as text.
import { useEffect, useMemo, useRef, useState } from 'react';
import { mutate, subscribe, type APIError } from '../api';
import { useLive } from '../hooks';
import { ErrorNote, Loading, Page, Status } from '../ui';
import { Link } from '../router';
import { graphql } from '../gql';
import type { DeploymentQuery } from '../gql/graphql';

type DeploymentTargets = NonNullable<Extract<DeploymentQuery['node'], { __typename: 'Deployment' }>['targets']>;

const depQuery = graphql(`query Deployment($id: ID!) {
  node(id: $id) { __typename ... on Deployment { id attempt status statusReason viewerCan { cancel } environmentName release { id name } job { status waitingReason agent { name } }
    targets { id target status resultReason waitingReason startedAt finishedAt } } }
}`);
const cancelM = graphql(`mutation CancelFromLog($id: ID!) { cancelDeployment(deploymentId: $id) { id status } }`);
const logSub = graphql(`subscription Log($id: ID!, $from: Int64) { deploymentLog(deploymentId: $id, fromSeq: $from) { seq step text time } }`);

type Line = { seq: number; step: number; text: string };

export function DeploymentLog({ id }: { id: string }) {
  const d = useLive(depQuery, { id }, (ev) => ev.deploymentId === id);
  const [lines, setLines] = useState<Line[]>([]);
  const [ended, setEnded] = useState(false);
  const [error, setError] = useState<Error | null>(null);
  const [follow, setFollow] = useState(true);
  const [search, setSearch] = useState('');
  const box = useRef<HTMLPreElement>(null);

  useEffect(() => {
    let pending: Line[] = [];
    let frame = 0;
    let last = 0;
    setLines([]);
    setEnded(false);
    const flush = () => {
      frame = 0;
      const batch = pending;
      pending = [];
      setLines((ls) => ls.concat(batch));
    };
    let stop: () => void = () => {};
    const start = (from: number) => {
      stop = subscribe(logSub, { id, from }, (data) => {
        const l = data.deploymentLog;
        if (l.seq <= last) return;
        last = l.seq;
        pending.push(l);
        if (!frame) frame = requestAnimationFrame(flush);
      }, (err) => {
        if (err) setError(err);
        else setEnded(true);
      });
    };
    start(1);
    // The subscription's completion is its end: graphql-ws calls complete.
    return () => {
      stop();
      if (frame) cancelAnimationFrame(frame);
    };
  }, [id]);

  useEffect(() => {
    if (follow && box.current) box.current.scrollTop = box.current.scrollHeight;
  }, [lines, follow]);

  const shown = useMemo(() => {
    if (!search) return lines;
    const q = search.toLowerCase();
    return lines.filter((l) => l.text.toLowerCase().includes(q));
  }, [lines, search]);

  const node = d.data?.node;
  const dep = node?.__typename === 'Deployment' ? node : undefined;
  return (
    <Page title={dep ? `${dep.release.name} → ${dep.environmentName}, attempt ${dep.attempt}` : 'Deployment log'} actions={dep && <><Status status={dep.status} />{dep.viewerCan.cancel && <CancelButton id={dep.id} />}</>}>
      {dep ? (
        <p className="small">
          <Link href={`/releases/${dep.release.id}`}>Back to {dep.release.name}</Link>
          {dep.job?.agent && <> · agent {dep.job.agent.name}</>}
          {dep.job?.status === 'QUEUED' && dep.job.waitingReason && <span className="waiting"> · waiting: {dep.job.waitingReason}</span>}
          {dep.statusReason && <> · {dep.statusReason}</>}
        </p>
      ) : d.loading ? <Loading what="the deployment" /> : <ErrorNote error={d.error} />}
      <div className="log-tools" role="toolbar" aria-label="Log tools">
        <label><input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} /> Follow</label>
        <label htmlFor="log-search">Search</label>
        <input id="log-search" type="search" value={search} onChange={(e) => setSearch(e.target.value)} />
        <span className="small" aria-live="polite">{search ? `${shown.length} of ${lines.length} lines` : `${lines.length} lines`}{ended ? ' · complete' : ' · live'}</span>
        <a href={`/logs/deployments/${id}`} download={`deployment-${id}.log`}>Download</a>
      </div>
      <ErrorNote error={error} />
      <pre className="log" ref={box} tabIndex={0} role="region" aria-label="Log output" data-testid="log"
        onScroll={(e) => {
          const el = e.currentTarget;
          const atEnd = el.scrollHeight - el.scrollTop - el.clientHeight < 4;
          if (!atEnd && follow) setFollow(false);
        }}>
        {shown.map((l) => <div key={l.seq} className="line"><span className="seq" aria-hidden="true">{l.seq}</span>{l.text}{'\n'}</div>)}
      </pre>
      {dep && (dep.targets ?? []).length > 0 && <Targets id={id} targets={dep.targets ?? []} />}
    </Page>
  );
}

// CancelButton cancels the deployment (shown when its viewerCan allows it).
function CancelButton({ id }: { id: string }) {
  const [error, setError] = useState<APIError | null>(null);
  const [busy, setBusy] = useState(false);
  return (
    <>
      <button type="button" className="danger" disabled={busy} onClick={async () => {
        setBusy(true);
        setError(null);
        try {
          await mutate(cancelM, { id });
        } catch (e) {
          setError(e as APIError);
        } finally {
          setBusy(false);
        }
      }}>Cancel deployment</button>
      <ErrorNote error={error} />
    </>
  );
}

// Targets lists the deployment-group targets of the deployment: each one's job status, times,
// why it did not run or failed, and its own log to download.
function Targets({ id, targets }: { id: string; targets: DeploymentTargets }) {
  return (
    <section aria-label="Targets">
      <h2>Targets</h2>
      <table>
        <thead><tr><th>Target</th><th>Status</th><th>Started</th><th>Finished</th><th>Reason</th><th>Log</th></tr></thead>
        <tbody>
          {targets.map((t) => (
            <tr key={t.id}>
              <td>{t.target}</td>
              <td><Status status={t.status} /></td>
              <td>{t.startedAt ? new Date(t.startedAt).toLocaleTimeString() : ''}</td>
              <td>{t.finishedAt ? new Date(t.finishedAt).toLocaleTimeString() : ''}</td>
              <td>{t.resultReason || (t.status === 'QUEUED' ? t.waitingReason : '')}</td>
              <td><a href={`/logs/deployments/${id}?target=${encodeURIComponent(t.target)}`} download={`deployment-${id}-${t.target}.log`}>Download</a></td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
