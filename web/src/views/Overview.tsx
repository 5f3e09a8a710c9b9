// The overview matrix: definitions × environments. Each cell: the release
// the environment runs, the status of its latest deployment, since when,
// and whom it waits on (approvers, a manual intervention, or why no agent
// takes its job).
import { useRef } from 'react';
import { useLive } from '../hooks';
import { HiddenWaiting, useWaitingForViewer } from './OverviewHidden';
import { Ago, ErrorNote, Loading, Page, Status, edges } from '../ui';
import { Link } from '../router';
import { useMayCall } from '../may';
import { graphql } from '../gql';
import { CreateReleaseButton } from './CreateRelease';
import type { OverviewQuery, OverviewRowQuery } from '../gql/graphql';

const definitionsQuery = graphql(`query Overview {
  definitions(first: 100, orderBy: {field: NAME, direction: ASC}) {
    edges { node { id name viewerCan { createReleases } environments { name rank } } }
  }
}`);

const rowQuery = graphql(`query OverviewRow($id: ID!) {
  currentDeployments(definitionId: $id) {
    environment
    current { id name }
    latest {
      id status statusReason updatedAt createdAt
      release { id name }
      approvals { id stage status approver approverKind }
      job { status waitingReason }
      manualInterventions { status taskName approvers { kind name } }
    }
  }
}`);

type Def = NonNullable<NonNullable<NonNullable<OverviewQuery['definitions']['edges']>[number]>['node']>;
export type EnvState = OverviewRowQuery['currentDeployments'][number];

// waitingOn says whom (or what) a deployment waits on, or null.
export function waitingOn(latest: EnvState['latest']): string | null {
  if (!latest) return null;
  if (latest.status === 'PENDING_APPROVAL' || latest.status === 'PENDING_POST_APPROVAL') {
    const names = (latest.approvals ?? []).filter((a) => a.status === 'PENDING').map((a) => (a.approverKind === 'GROUP' ? `group ${a.approver}` : a.approver));
    return names.length ? `approval by ${names.join(', ')}` : 'approval';
  }
  const mi = (latest.manualInterventions ?? []).find((m) => m.status === 'PENDING');
  if (mi) {
    const names = (mi.approvers ?? []).map((a) => (a.kind === 'GROUP' ? `group ${a.name}` : a.name));
    return `manual intervention ${mi.taskName}${names.length ? ` by ${names.join(', ')}` : ''}`;
  }
  if (latest.job && (latest.job.status === 'QUEUED') && latest.job.waitingReason) return latest.job.waitingReason;
  return null;
}

export function Overview() {
  const defs = useLive(definitionsQuery, {}, (ev) => ev.__typename === 'ReleaseCreatedEvent');
  const list: Def[] = edges(defs.data?.definitions);
  const box = useRef<HTMLDivElement>(null);
  const waiting = useWaitingForViewer();
  const envNames = Array.from(new Set(list.flatMap((d) => [...(d.environments ?? [])].sort((a, b) => a.rank - b.rank).map((e) => e.name))));
  const may = useMayCall('Mutation.createDefinition');
  return (
    <Page title="Overview" actions={may?.has('Mutation.createDefinition') && <Link href="/definitions/new" className="button-link">New definition</Link>}>
      <ErrorNote error={defs.error} />
      {defs.loading && !defs.data ? <Loading what="definitions" /> : list.length === 0 ? (
        <p>No release definitions yet.{may?.has('Mutation.createDefinition') ? <> <Link href="/definitions/new">Create the first one</Link>.</> : ' An editor creates them.'}</p>
      ) : (
        <>
        <HiddenWaiting box={box} />
        <div className="scroll-x" role="region" aria-label="Definitions and environments" tabIndex={0} ref={box}>
          <table className="matrix">
            <caption className="sr-only">What each environment of each definition runs</caption>
            <thead>
              <tr>
                <th scope="col">Definition</th>
                {envNames.map((n) => <th scope="col" key={n}>{n}</th>)}
              </tr>
            </thead>
            <tbody>
              {list.map((d) => <Row key={d.id} def={d} envNames={envNames} waiting={waiting} />)}
            </tbody>
          </table>
        </div>
        </>
      )}
    </Page>
  );
}

function Row({ def, envNames, waiting }: { def: Def; envNames: string[]; waiting: Set<string> }) {
  const row = useLive(rowQuery, { id: def.id }, (ev) => ev.definitionId === def.id);
  const byEnv = new Map((row.data?.currentDeployments ?? []).map((s) => [s.environment, s]));
  const has = new Set((def.environments ?? []).map((e) => e.name));
  return (
    <tr>
      <th scope="row"><Link href={`/definitions/${def.id}`}>{def.name}</Link> <CreateReleaseButton definitionId={def.id} definitionName={def.name} can={def.viewerCan.createReleases} compact /></th>
      {envNames.map((n) => (
        <td key={n} data-env={n} data-key={`${def.id}/${n}`}
          data-waits-viewer={byEnv.get(n)?.latest && waiting.has(byEnv.get(n)!.latest!.id) ? `${n} of ${def.name}` : undefined}>
          {!has.has(n) ? <span className="muted" aria-label="no such environment">—</span> : <Cell s={byEnv.get(n)} />}
        </td>
      ))}
    </tr>
  );
}

function Cell({ s }: { s?: EnvState }) {
  if (!s || !s.latest) return <span className="muted">Never deployed</span>;
  const l = s.latest;
  const wait = waitingOn(l);
  return (
    <div className="cell">
      <Link href={`/releases/${l.release.id}`} className="release-name">{l.release.name}</Link>{' '}
      <Status status={l.status} />
      <div className="small">since <Ago time={l.updatedAt} /></div>
      {wait && <div className="small waiting">waiting on {wait}</div>}
      {s.current && s.current.id !== l.release.id && (
        <div className="small">runs <Link href={`/releases/${s.current.id}`}>{s.current.name}</Link></div>
      )}
    </div>
  );
}
