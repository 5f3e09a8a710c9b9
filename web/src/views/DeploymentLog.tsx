// A deployment's log, streamed in batches over deploymentLogBatches (fromSeq lastSeq texts
// steps: a message per 1,000 lines, not one per line) into a LogStore (one array of strings),
// and shown by a fixed-row-height virtual list: only the rows on screen (and a few around)
// are in the DOM, so a 1,000,000-line log shows its first screen as soon as its first batch
// arrives. Lines are grouped by phase and task (a header with status, start time and duration,
// collapsible); errors and warnings (the agent's "##[error]"/"##[warning]" lines) are
// highlighted and can be jumped to. Follow keeps the newest line in view without re-rendering
// the rows already on screen (rows are memoised by sequence number); search lists the matching
// lines; download fetches the whole log as text with the same task headers.
import { memo, useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from 'react';
import { subscribe } from '../api';
import { useLive } from '../hooks';
import { ErrorNote, Loading, Page, Status } from '../ui';
import { Link } from '../router';
import { graphql } from '../gql';
import type { DeploymentQuery } from '../gql/graphql';
import { LogStore, lineKind, type LineKind } from '../logstore';
import { ConfirmButton } from './ConfirmAction';

type Dep = Extract<NonNullable<DeploymentQuery['node']>, { __typename: 'Deployment' }>;
type DeploymentTargets = NonNullable<Dep['targets']>;
type Job = NonNullable<Dep['jobs']>[number];
type Step = NonNullable<Job['steps']>[number];

const depQuery = graphql(`query Deployment($id: ID!) {
  node(id: $id) { __typename ... on Deployment { id attempt status statusReason viewerCan { cancel } environmentName completedAt release { id name } job { status waitingReason agent { name } }
    jobs { id phase target logBase logSeq status startedAt finishedAt agent { name }
      steps { id position name status startedAt finishedAt errorCount warningCount } }
    targets { id target status resultReason waitingReason startedAt finishedAt } } }
}`);
const logSub = graphql(`subscription LogBatches($id: ID!, $from: Int64, $max: Int) {
  deploymentLogBatches(deploymentId: $id, fromSeq: $from, maxLines: $max) { fromSeq lastSeq texts steps }
}`);

// Row geometry: every row (line or header) is ROW px high; browsers cap an element's height
// (about 33 M px in Chromium), so past MAX_PX the scroll position maps to rows by proportion.
const ROW = 18;
const MAX_PX = 15_000_000;
const OVERSCAN = 20;

// Segments of the row model: a header row, a run of consecutive lines, or a list of lines
// (search results). start is the index of the segment's first row.
type Phase = { idx: number; job?: Job; key: string };
type Block = { phase: Phase; step: number; from: number; to: number; errors: number; warnings: number; key: string };
type Seg =
  | { t: 'phase'; start: number; phase: Phase; blocks: Block[]; collapsed: boolean }
  | { t: 'task'; start: number; block: Block; collapsed: boolean }
  | { t: 'lines'; start: number; from: number; to: number }
  | { t: 'list'; start: number; seqs: number[] };

function segSize(s: Seg): number {
  if (s.t === 'lines') return s.to - s.from + 1;
  if (s.t === 'list') return s.seqs.length;
  return 1;
}

// blocks splits the store's step runs at the phases' boundaries (a job's lines follow its
// logBase) and names each by phase and step.
function blocksOf(store: LogStore, jobs: Job[]): Block[] {
  const out: Block[] = [];
  const phases: Phase[] = jobs.map((job, idx) => ({ idx, job, key: `p${job.phase}` }));
  const phaseAt = (seq: number): number => {
    let k = 0;
    for (let i = 0; i < jobs.length; i++) if (jobs[i].logBase < seq) k = i;
    return k;
  };
  const none: Phase = { idx: 0, key: 'p' };
  for (const r of store.runs) {
    let from = r.from;
    while (from <= r.to) {
      const k = phases.length ? phaseAt(from) : -1;
      const next = k >= 0 && k + 1 < jobs.length ? jobs[k + 1].logBase : Infinity;
      const to = Math.min(r.to, next);
      const phase = k >= 0 ? phases[k] : none;
      const whole = from === r.from && to === r.to;
      out.push({ phase, step: r.step, from, to, errors: whole ? r.errors : 0, warnings: whole ? r.warnings : 0, key: `${phase.key}s${r.step}` });
      from = to + 1;
    }
  }
  // Counts of a run cut at a phase boundary (rare) are recomputed from the lines.
  for (const b of out) {
    if (b.errors || b.warnings) continue;
    const e = countIn(store.errors, b.from, b.to);
    const w = countIn(store.warnings, b.from, b.to);
    b.errors = e;
    b.warnings = w;
  }
  return out;
}

// countIn counts the sorted seqs within [from, to].
function countIn(seqs: number[], from: number, to: number): number {
  return lowerBound(seqs, to + 1) - lowerBound(seqs, from);
}

function lowerBound(a: number[], x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (a[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function buildSegs(blocks: Block[], collapsed: Set<string>, showPhases: boolean): { segs: Seg[]; rows: number } {
  const segs: Seg[] = [];
  let n = 0;
  const push = (s: Seg) => {
    segs.push(s);
    n += segSize(s);
  };
  let i = 0;
  while (i < blocks.length) {
    const phase = blocks[i].phase;
    let j = i;
    while (j < blocks.length && blocks[j].phase === phase) j++;
    const pb = blocks.slice(i, j);
    const pc = showPhases && collapsed.has(phase.key);
    if (showPhases) push({ t: 'phase', start: n, phase, blocks: pb, collapsed: pc });
    if (!pc) {
      for (const b of pb) {
        const c = collapsed.has(b.key);
        push({ t: 'task', start: n, block: b, collapsed: c });
        if (!c) push({ t: 'lines', start: n, from: b.from, to: b.to });
      }
    }
    i = j;
  }
  return { segs, rows: n };
}

// segAt returns the index of the segment holding row r.
function segAt(segs: Seg[], r: number): number {
  let lo = 0;
  let hi = segs.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (segs[mid].start <= r) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

// rowOf returns the row showing line seq, or -1 when it is not shown.
function rowOf(segs: Seg[], seq: number): number {
  for (const s of segs) {
    if (s.t === 'lines' && s.from <= seq && seq <= s.to) return s.start + seq - s.from;
    if (s.t === 'list') {
      const i = lowerBound(s.seqs, seq);
      return s.seqs[i] === seq ? s.start + i : -1;
    }
  }
  return -1;
}

function duration(ms: number): string {
  if (ms < 0) return '';
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s - m * 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

// timing is "started 12:00:01 · 3.2 s" (or "· running").
function timing(startedAt?: string | null, finishedAt?: string | null): string {
  if (!startedAt) return '';
  const start = new Date(startedAt);
  const end = finishedAt ? new Date(finishedAt).getTime() : NaN;
  return `started ${start.toLocaleTimeString()} · ${isNaN(end) ? 'running' : duration(end - start.getTime())}`;
}

function stepName(step: number, s?: Step): string {
  if (s?.name) return s.name;
  return step === 0 ? 'Download artifacts' : `Step ${step}`;
}

const Line = memo(function Line({ seq, text, current }: { seq: number; text: string; current: boolean }) {
  const { kind, body } = lineKind(text);
  return (
    <div className={`line${kind ? ' k-' + kind : ''}${current ? ' current' : ''}`} data-seq={seq}>
      <span className="seq" aria-hidden="true">{seq}</span>
      {kindLabel(kind)}{body}
    </div>
  );
});

function kindLabel(kind: LineKind) {
  if (kind === 'error') return <span className="kind">Error: </span>;
  if (kind === 'warning') return <span className="kind">Warning: </span>;
  return null;
}

export function DeploymentLog({ id }: { id: string }) {
  const d = useLive(depQuery, { id }, (ev) => ev.deploymentId === id);
  const store = useMemo(() => new LogStore(), [id]);
  const [version, setVersion] = useState(0);
  const [ended, setEnded] = useState(false);
  const [error, setError] = useState<Error | null>(null);
  const [follow, setFollow] = useState<boolean | null>(null);
  const [search, setSearch] = useState('');
  const [query, setQuery] = useState('');
  const [collapsed, setCollapsed] = useState<Set<string>>(() => new Set());
  const [current, setCurrent] = useState(0);
  const [view, setView] = useState({ top: 0, height: 600 });
  const box = useRef<HTMLDivElement>(null);
  const jump = useRef(0);
  const reload = useRef(d.reload);
  reload.current = d.reload;

  useEffect(() => {
    let frame = 0;
    let runs = 0;
    let stop: () => void = () => {};
    setEnded(false);
    const flush = () => {
      frame = 0;
      setVersion((v) => v + 1);
      if (store.runs.length !== runs) {
        runs = store.runs.length;
        reload.current(); // a new step began: its name and start time
      }
    };
    const start = (from: number) => {
      stop = subscribe(logSub, { id, from, max: 1000 }, (data) => {
        const b = data.deploymentLogBatches;
        if (!store.add(b.fromSeq, b.texts, b.steps)) {
          stop();
          start(store.length + 1); // a gap: read again from the first missing line
          return;
        }
        if (!frame) frame = requestAnimationFrame(flush);
      }, (err) => {
        if (err) setError(err);
        else {
          setEnded(true);
          performance.mark('cairn-log-complete');
          reload.current();
        }
      });
    };
    start(1);
    // The subscription's completion is the log's end: graphql-ws calls complete.
    return () => {
      stop();
      if (frame) cancelAnimationFrame(frame);
    };
  }, [id, store]);

  // Search runs a moment after typing stops (it scans every line once, then only new ones).
  useEffect(() => {
    const t = setTimeout(() => setQuery(search), 120);
    return () => clearTimeout(t);
  }, [search]);
  const matches = useMemo(() => {
    store.search(query);
    return query ? store.matches.slice() : [];
    // version: new lines extend the matches
  }, [store, query, version]);

  const node = d.data?.node;
  const dep = node?.__typename === 'Deployment' ? node : undefined;
  const jobs = useMemo(() => (dep?.jobs ?? []).filter((j) => j.target === '').sort((a, b) => a.phase - b.phase), [dep]);

  // A finished deployment's log opens at its first line; a running one follows its end.
  useEffect(() => {
    if (follow === null && dep) setFollow(!dep.completedAt);
  }, [dep, follow]);
  const following = follow === true;

  const blocks = useMemo(() => blocksOf(store, jobs), [store, jobs, version]);
  const { segs, rows } = useMemo(() => {
    if (query) return { segs: [{ t: 'list', start: 0, seqs: matches } as Seg], rows: matches.length };
    return buildSegs(blocks, collapsed, jobs.length > 0);
  }, [blocks, collapsed, jobs.length, query, matches]);

  // Geometry of the virtual list.
  const full = rows * ROW;
  const space = Math.min(full, MAX_PX);
  const scaled = full > space;
  // Scaled, the rows that fit the box are drawn at the scroll position: the first is the
  // scroll position's share of the rows that can come first, so the end shows the last row.
  const visible = Math.ceil(view.height / ROW) + 1;
  const fit = Math.max(Math.floor(view.height / ROW), 1);
  const maxScroll = Math.max(space - view.height, 1);
  const first = scaled ? Math.round((Math.min(view.top, maxScroll) / maxScroll) * Math.max(rows - fit, 0)) : Math.floor(view.top / ROW);
  const from = Math.max(0, first - (scaled ? 0 : OVERSCAN));
  const to = Math.min(rows, scaled ? first + fit : first + visible + OVERSCAN);
  const offset = scaled ? Math.min(view.top, maxScroll) : from * ROW;

  const scrollToRow = useCallback((r: number) => {
    const el = box.current;
    if (!el) return;
    const h = el.clientHeight;
    const f = rows * ROW;
    const sp = Math.min(f, MAX_PX);
    const fits = Math.max(Math.floor(h / ROW), 1);
    const target = f > sp ? (Math.max(r - Math.floor(fits / 3), 0) / Math.max(rows - fits, 1)) * Math.max(sp - h, 1) : r * ROW - h / 3;
    el.scrollTop = Math.max(0, target);
  }, [rows]);

  // Follow: keep the end in view as lines arrive.
  useLayoutEffect(() => {
    const el = box.current;
    if (following && el) el.scrollTop = el.scrollHeight;
  }, [following, rows]);

  // A pending jump (to an error) scrolls once the rows that show it exist.
  useLayoutEffect(() => {
    if (!jump.current) return;
    const r = rowOf(segs, jump.current);
    jump.current = 0;
    if (r >= 0) scrollToRow(r);
  }, [segs, scrollToRow]);

  // The first screen of lines, for measurements (BENCHMARKS.md: the log view).
  const marked = useRef(false);
  useEffect(() => {
    if (!marked.current && rows > 0) {
      marked.current = true;
      requestAnimationFrame(() => performance.mark('cairn-log-first-screen'));
    }
  }, [rows]);

  const onScroll = () => {
    const el = box.current;
    if (!el) return;
    setView({ top: el.scrollTop, height: el.clientHeight });
    const atEnd = el.scrollHeight - el.scrollTop - el.clientHeight < 4;
    if (!atEnd && following) setFollow(false);
  };
  useLayoutEffect(() => {
    const el = box.current;
    if (!el) return;
    const measure = () => setView({ top: el.scrollTop, height: el.clientHeight });
    measure();
    const ro = new ResizeObserver(measure);
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  const toggle = (key: string) => setCollapsed((c) => {
    const n = new Set(c);
    if (n.has(key)) n.delete(key);
    else n.add(key);
    return n;
  });

  // goTo shows line seq: its phase and task expanded, the search cleared, following stopped.
  const goTo = (seq: number) => {
    const b = blocks.find((x) => x.from <= seq && seq <= x.to);
    setFollow(false);
    setSearch('');
    setQuery('');
    if (b) setCollapsed((c) => {
      if (!c.has(b.key) && !c.has(b.phase.key)) return c;
      const n = new Set(c);
      n.delete(b.key);
      n.delete(b.phase.key);
      return n;
    });
    setCurrent(seq);
    jump.current = seq;
    const r = rowOf(segs, seq);
    if (r >= 0 && !query) {
      jump.current = 0;
      scrollToRow(r);
    }
  };
  const nextError = () => {
    const i = lowerBound(store.errors, current + 1);
    goTo(store.errors[i < store.errors.length ? i : 0]);
  };
  const toEnd = () => {
    setSearch('');
    setQuery('');
    setFollow(true);
    const el = box.current;
    if (el) el.scrollTop = el.scrollHeight;
  };
  const toStart = () => {
    setFollow(false);
    const el = box.current;
    if (el) el.scrollTop = 0;
  };

  const rendered = [];
  if (rows > 0) {
    let si = segAt(segs, from);
    for (let r = from; r < to && si < segs.length; si++) {
      const s = segs[si];
      const end = Math.min(to, s.start + segSize(s));
      for (; r < end; r++) {
        if (s.t === 'lines' || s.t === 'list') {
          const seq = s.t === 'lines' ? s.from + (r - s.start) : s.seqs[r - s.start];
          rendered.push(<Line key={seq} seq={seq} text={store.text(seq)} current={seq === current} />);
        } else if (s.t === 'phase') {
          rendered.push(<PhaseHeader key={'h' + s.phase.key} phase={s.phase} blocks={s.blocks} collapsed={s.collapsed} toggle={toggle} />);
        } else {
          rendered.push(<TaskHeader key={'h' + s.block.key + ':' + s.block.from} block={s.block} collapsed={s.collapsed} toggle={toggle} />);
        }
      }
    }
  }

  const errors = store.errors.length;
  const warnings = store.warnings.length;
  return (
    <Page title={dep ? `${dep.release.name} → ${dep.environmentName}, attempt ${dep.attempt}` : 'Deployment log'} actions={dep && <><Status status={dep.status} />{dep.viewerCan.cancel && <ConfirmButton className="danger" label="Cancel deployment"
      action={{ kind: 'cancel', deploymentId: dep.id, releaseId: dep.release.id, releaseName: dep.release.name, environment: dep.environmentName }} />}</>}>
      {dep ? (
        <p className="small">
          <Link href={`/releases/${dep.release.id}`}>Back to {dep.release.name}</Link>
          {dep.job?.agent && <> · agent {dep.job.agent.name}</>}
          {dep.job?.status === 'QUEUED' && dep.job.waitingReason && <span className="waiting"> · waiting: {dep.job.waitingReason}</span>}
          {dep.statusReason && <> · {dep.statusReason}</>}
        </p>
      ) : d.loading ? <Loading what="the deployment" /> : <ErrorNote error={d.error} />}
      <div className="log-tools" role="toolbar" aria-label="Log tools">
        <label><input type="checkbox" checked={following} onChange={(e) => (e.target.checked ? toEnd() : setFollow(false))} /> Follow</label>
        <label htmlFor="log-search">Search</label>
        <input id="log-search" type="search" value={search} onChange={(e) => setSearch(e.target.value)} />
        <button type="button" onClick={toStart}>Top</button>
        <button type="button" onClick={toEnd}>End</button>
        <button type="button" onClick={nextError} disabled={errors === 0} data-testid="next-error">
          {current && store.errors.includes(current) ? 'Next error' : 'First error'} ({errors})
        </button>
        {warnings > 0 && <span className="small k-warning-count">{warnings} warning{warnings === 1 ? '' : 's'}</span>}
        <span className="small" aria-live="polite">{query ? `${matches.length} of ${store.length} lines` : `${store.length} lines`}{ended ? ' · complete' : ' · live'}</span>
        <a href={`/logs/deployments/${id}?headers=1`} download={`deployment-${id}.log`}>Download</a>
      </div>
      <ErrorNote error={error} />
      <div className="log" ref={box} tabIndex={0} role="region" aria-label="Log output" data-testid="log" data-rows={rows} onScroll={onScroll}>
        <div className="log-space" style={{ height: space }}>
          <div className="log-rows" style={{ transform: `translateY(${offset}px)` }}>{rendered}</div>
        </div>
      </div>
      {dep && (dep.targets ?? []).length > 0 && <Targets id={id} targets={dep.targets ?? []} />}
    </Page>
  );
}

function PhaseHeader({ phase, blocks, collapsed, toggle }: { phase: Phase; blocks: Block[]; collapsed: boolean; toggle: (k: string) => void }) {
  const j = phase.job;
  const errors = blocks.reduce((n, b) => n + b.errors, 0);
  return (
    <div className={`log-head phase${errors ? ' has-errors' : ''}`} data-phase={j?.phase}>
      <button type="button" aria-expanded={!collapsed} onClick={() => toggle(phase.key)}>
        {collapsed ? '▸' : '▾'} Phase {(j?.phase ?? 0) + 1}{j?.agent ? ` · agent ${j.agent.name}` : ''}
      </button>
      {j && <Status status={j.status} />}
      <span className="when">{timing(j?.startedAt, j?.finishedAt)}</span>
    </div>
  );
}

function TaskHeader({ block, collapsed, toggle }: { block: Block; collapsed: boolean; toggle: (k: string) => void }) {
  const s = block.phase.job?.steps?.find((x) => x.position === block.step);
  return (
    <div className={`log-head task${block.errors ? ' has-errors' : block.warnings ? ' has-warnings' : ''}`} data-step={block.step}>
      <button type="button" aria-expanded={!collapsed} onClick={() => toggle(block.key)}>
        {collapsed ? '▸' : '▾'} {stepName(block.step, s)}
      </button>
      {s && <Status status={s.status} />}
      <span className="when">{timing(s?.startedAt, s?.finishedAt)}</span>
      <span className="counts">
        {block.to - block.from + 1} line{block.to === block.from ? '' : 's'}
        {block.errors > 0 && <> · <span className="k-error">{block.errors} error{block.errors === 1 ? '' : 's'}</span></>}
        {block.warnings > 0 && <> · <span className="k-warning">{block.warnings} warning{block.warnings === 1 ? '' : 's'}</span></>}
      </span>
    </div>
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
              <td><a href={`/logs/deployments/${id}?target=${encodeURIComponent(t.target)}&headers=1`} download={`deployment-${id}-${t.target}.log`}>Download</a></td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
