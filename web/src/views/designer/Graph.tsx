// The environments of a definition as a graph: the release on the left, each environment in
// the column after the environments that trigger it, triggers drawn as arrows (SVG). Nodes
// are buttons that select the environment to edit; the arrows are also said in words for
// screen readers.
import type { Env } from './model';

const W = 150, H = 44, COL = 200, ROW = 68, PAD = 12;

export function levels(envs: Env[]): number[] {
  const byName = new Map(envs.map((e, i) => [e.name, i]));
  const memo = new Map<number, number>();
  const level = (i: number, depth: number): number => {
    if (memo.has(i)) return memo.get(i)!;
    const t = envs[i].trigger;
    let l = 0;
    if (t?.kind === 'AFTER_ENVIRONMENTS' && depth < envs.length) {
      for (const n of t.environments ?? []) {
        const j = byName.get(n);
        if (j !== undefined && j !== i) l = Math.max(l, level(j, depth + 1) + 1);
      }
    }
    memo.set(i, l);
    return l;
  };
  return envs.map((_, i) => level(i, 0));
}

export function EnvironmentGraph({ envs, selected, onSelect }: { envs: Env[]; selected: number; onSelect: (i: number) => void }) {
  const lv = levels(envs);
  const rows = new Map<number, number>();
  const pos = envs.map((_, i) => {
    const r = rows.get(lv[i]) ?? 0;
    rows.set(lv[i], r + 1);
    return { x: PAD + (lv[i] + 1) * COL, y: PAD + r * ROW };
  });
  const release = { x: PAD, y: PAD };
  const width = PAD * 2 + (Math.max(0, ...lv) + 1) * COL + W;
  const height = PAD * 2 + Math.max(1, ...rows.values()) * ROW - (ROW - H);
  const byName = new Map(envs.map((e, i) => [e.name, i]));
  const arrows: { from: string; to: string; x1: number; y1: number; x2: number; y2: number; partial?: boolean }[] = [];
  envs.forEach((e, i) => {
    const to = pos[i];
    if (e.trigger?.kind === 'AFTER_RELEASE' || !e.trigger) {
      arrows.push({ from: '(release)', to: e.name, x1: release.x + W, y1: release.y + H / 2, x2: to.x, y2: to.y + H / 2 });
    } else if (e.trigger.kind === 'AFTER_ENVIRONMENTS') {
      for (const n of e.trigger.environments ?? []) {
        const j = byName.get(n);
        if (j === undefined || j === i) continue;
        arrows.push({ from: n, to: e.name, x1: pos[j].x + W, y1: pos[j].y + H / 2, x2: to.x, y2: to.y + H / 2, partial: !!e.trigger.allowPartiallySucceeded });
      }
    }
  });
  const said = envs.map((e) => {
    const t = e.trigger;
    if (!t || t.kind === 'AFTER_RELEASE') return `${e.name} deploys after the release is created`;
    if (t.kind === 'MANUAL') return `${e.name} deploys only by hand`;
    return `${e.name} deploys after ${(t.environments ?? []).join(' and ') || 'nothing'} succeeded${t.allowPartiallySucceeded ? ' (or partially)' : ''}`;
  });
  return (
    <div className="scroll-x graph-scroll" role="region" aria-label="Environments graph" tabIndex={0}>
      <div className="graph" style={{ width, height }}>
        <svg width={width} height={height} aria-hidden="true" className="graph-arrows">
          <defs>
            <marker id="arrowhead" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
              <path d="M 0 0 L 10 5 L 0 10 z" fill="currentColor" />
            </marker>
          </defs>
          {arrows.map((a) => {
            const mid = (a.x1 + a.x2) / 2;
            return (
              <path key={`${a.from}->${a.to}`} data-from={a.from} data-to={a.to} className={a.partial ? 'partial' : ''}
                d={`M ${a.x1} ${a.y1} C ${mid} ${a.y1}, ${mid} ${a.y2}, ${a.x2 - 2} ${a.y2}`} fill="none" stroke="currentColor" strokeWidth="2" markerEnd="url(#arrowhead)" />
            );
          })}
        </svg>
        <div className="node release-node" style={{ left: release.x, top: release.y, width: W, height: H }}>Release</div>
        {envs.map((e, i) => (
          <button key={i} type="button" className={`node${i === selected ? ' selected' : ''}${e.trigger?.kind === 'MANUAL' ? ' manual' : ''}`}
            style={{ left: pos[i].x, top: pos[i].y, width: W, height: H }} aria-pressed={i === selected} data-env={e.name}
            onClick={() => onSelect(i)}>
            {e.name || '(unnamed)'}
            {e.trigger?.kind === 'MANUAL' && <span className="small"> manual</span>}
          </button>
        ))}
      </div>
      <ul className="sr-only" aria-label="Triggers">{said.map((s, i) => <li key={i}>{s}</li>)}</ul>
    </div>
  );
}
