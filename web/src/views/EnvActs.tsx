// What acts on an environment of a release besides approvals: the gates of
// its latest deployment (their samples, the last failing one in full) and
// the freeze windows that cover it (active until when, or the next one).
// Shown on the release's environment card; it follows failed gate samples
// and freeze events as they happen.
import { useLive } from '../hooks';
import { Ago, ErrorNote } from '../ui';
import { graphql } from '../gql';
import type { GateSampleStage } from '../gql/graphql';

const envActsQuery = graphql(`query EnvActs($def: ID!, $dep: ID!, $hasDep: Boolean!) {
  freezeWindows(definitionId: $def) { id name reason environment mode active activeUntil nextStartsAt }
  node(id: $dep) @include(if: $hasDep) {
    ... on Deployment { id gateSamples { id stage number takenAt passed results { gate passed detail } } }
  }
}`);

type Sample = { id: string; stage: GateSampleStage; number: number; takenAt: string; passed: boolean; results: { gate: string; passed: boolean; detail: string }[] };

export function EnvActs({ releaseId, definitionId, environment, deploymentId }: { releaseId: string; definitionId: string; environment: string; deploymentId?: string }) {
  const q = useLive(envActsQuery, { def: definitionId, dep: deploymentId ?? '0', hasDep: !!deploymentId },
    (ev) => ev.releaseId === releaseId || !!ev.type?.startsWith('freeze.'));
  const node = q.data?.node;
  const samples: Sample[] = node && 'gateSamples' in node ? [...((node.gateSamples ?? []) as Sample[])] : [];
  const windows = (q.data?.freezeWindows ?? []).filter((w) => w.environment === '' || w.environment === environment);
  const shown = windows.filter((w) => w.active || w.nextStartsAt);
  if (q.error && !q.data) return <ErrorNote error={q.error} />;
  if (samples.length === 0 && shown.length === 0) return null;
  return (
    <div className="env-extras" data-env-acts={environment}>
      {(['PRE', 'POST'] as const).map((stage) => <Gates key={stage} stage={stage} samples={samples.filter((s) => s.stage === stage)} />)}
      {shown.length > 0 && (
        <>
          <h4>Freeze windows</h4>
          <ul data-freeze={environment}>
            {shown.map((w) => (
              <li key={w.id}>
                <strong>{w.name}</strong>{w.environment ? '' : ' (every environment)'}:{' '}
                {w.active
                  ? <>frozen{w.activeUntil && <> until <time dateTime={w.activeUntil}>{new Date(w.activeUntil).toLocaleString()}</time></>}; {w.mode === 'REFUSE' ? 'deployments are refused' : 'deployments wait'}</>
                  : <>next from <time dateTime={w.nextStartsAt!}>{new Date(w.nextStartsAt!).toLocaleString()}</time></>}
                {w.reason && <span className="small"> — {w.reason}</span>}
              </li>
            ))}
          </ul>
        </>
      )}
    </div>
  );
}

function Gates({ stage, samples }: { stage: 'PRE' | 'POST'; samples: Sample[] }) {
  if (samples.length === 0) return null;
  const sorted = [...samples].sort((a, b) => a.number - b.number);
  const last = sorted[sorted.length - 1];
  const failing = [...sorted].reverse().find((s) => !s.passed);
  const passed = sorted.filter((s) => s.passed).length;
  return (
    <div data-gates={stage}>
      <h4>{stage === 'PRE' ? 'Pre-deployment' : 'Post-deployment'} gates</h4>
      <p className="small">
        {sorted.length} sample{sorted.length === 1 ? '' : 's'}, {passed} passed; the last (#{last.number}) {last.passed ? 'passed' : 'failed'} <Ago time={last.takenAt} />
      </p>
      {failing && (
        <>
          <p className="small">Last failing sample: #{failing.number} <Ago time={failing.takenAt} /></p>
          <ul aria-label={`Gates of sample ${failing.number}`}>
            {failing.results.map((r) => (
              <li key={r.gate} className={r.passed ? '' : 'gate-fail'}>{r.gate}: {r.passed ? 'passed' : 'failed'}{r.detail && ` — ${r.detail}`}</li>
            ))}
          </ul>
        </>
      )}
    </div>
  );
}
