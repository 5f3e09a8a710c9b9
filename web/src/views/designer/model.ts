// The definition designer's document: a DefinitionInput (the generated type of the API's
// input), edited in place by the forms and the JSON view, read from a revision's snapshot,
// compared field by field for the save dialog and merged again after a conflicting save.
import type { DefinitionInput, EnvironmentInput, TaskInput, PhaseSpecInput } from '../../gql/graphql';
import type { DesignerSnapshotFragment } from '../../gql/graphql';

export type Doc = DefinitionInput;
export type Env = EnvironmentInput;
export type Task = TaskInput;
export type Phase = PhaseSpecInput;
type Json = unknown;

// prune drops what the API reads as "not given": null, "" and empty lists and objects, so
// that a snapshot read back is a document the server takes unchanged.
function prune(v: Json): Json {
  if (Array.isArray(v)) return v.map(prune);
  if (v && typeof v === 'object') {
    const out: Record<string, Json> = {};
    for (const [k, x] of Object.entries(v)) {
      if (k === '__typename') continue;
      const p = prune(x);
      if (p === null || p === undefined || p === '') continue;
      if (Array.isArray(p) && p.length === 0) continue;
      if (p && typeof p === 'object' && !Array.isArray(p) && Object.keys(p).length === 0) continue;
      out[k] = p;
    }
    return out;
  }
  return v;
}

const taskKeys: Record<string, string[]> = {
  SCRIPT: ['name', 'kind', 'shell', 'script', 'workingDirectory', 'env', 'timeoutMinutes', 'continueOnError', 'disabled', 'condition', 'uses', 'inputs'],
  MANUAL_INTERVENTION: ['name', 'kind', 'instructions', 'approvers', 'onTimeout', 'timeoutMinutes', 'disabled'],
  INVOKE_REST_API: ['name', 'kind', 'http', 'timeoutMinutes', 'disabled', 'condition', 'continueOnError'],
};

const phaseKeys: Record<string, string[]> = {
  AGENT: ['kind', 'name', 'tasks', 'condition', 'timeoutMinutes', 'pool', 'demands', 'skipArtifactDownload', 'secureFiles'],
  DEPLOYMENT_GROUP: ['kind', 'name', 'tasks', 'condition', 'timeoutMinutes', 'demands', 'skipArtifactDownload', 'secureFiles', 'deploymentGroup', 'tags', 'maxParallel', 'failureThreshold', 'offlineTargets'],
  SERVER: ['kind', 'name', 'tasks', 'condition', 'timeoutMinutes'],
};

function pick<T extends object>(o: T, keys: string[]): T {
  return Object.fromEntries(Object.entries(o).filter(([k]) => keys.includes(k))) as T;
}

function cleanTask(t: Task): Task {
  const kind = t.kind ?? 'SCRIPT';
  const out = pick(t, taskKeys[kind] ?? taskKeys.SCRIPT);
  if (kind === 'SCRIPT' && out.uses) {
    delete out.script;
    delete out.shell;
  }
  if (out.condition === 'SUCCEEDED') delete out.condition;
  return out;
}

// clean turns the document into what is sent: kind-specific fields only, nothing empty.
export function clean(doc: Doc): Doc {
  const d = prune(doc) as Doc;
  d.environments = (d.environments ?? []).map((e) => {
    const env = { ...e };
    if (env.job) env.job = { ...env.job, tasks: (env.job.tasks ?? []).map(cleanTask) };
    if (env.phases && env.phases.length) {
      delete env.job;
      env.phases = env.phases.map((p) => ({ ...pick(p, phaseKeys[p.kind] ?? phaseKeys.AGENT), tasks: (p.tasks ?? []).map(cleanTask) }));
    }
    if (env.trigger && env.trigger.kind !== 'AFTER_ENVIRONMENTS') env.trigger = { ...env.trigger, environments: undefined };
    return prune(env) as Env;
  });
  return prune(d) as Doc;
}

// fromSnapshot reads a revision's document as an input (secret values stay on the server:
// a secret sent without a value keeps its stored one).
export function fromSnapshot(s: DesignerSnapshotFragment): Doc {
  const copy = JSON.parse(JSON.stringify(s)) as Record<string, Json> & { environments: Record<string, Json>[] };
  for (const e of copy.environments) {
    const phases = e.phases as unknown[] | undefined;
    if (phases && phases.length) delete e.job;
    strip(e, 'resolvedVersion');
  }
  return clean(copy as unknown as Doc);
}

function strip(v: Json, key: string) {
  if (Array.isArray(v)) v.forEach((x) => strip(x, key));
  else if (v && typeof v === 'object') {
    delete (v as Record<string, Json>)[key];
    Object.values(v).forEach((x) => strip(x, key));
  }
}

export function blankEnvironment(name: string, after?: string): Env {
  return {
    name,
    trigger: after ? { kind: 'AFTER_ENVIRONMENTS', environments: [after] } : { kind: 'AFTER_RELEASE' },
    job: { tasks: [] },
  };
}

export function blankDoc(): Doc {
  return { name: '', environments: [blankEnvironment('dev')] };
}

// A change between two documents, as the API's definitionDiff writes it: environments,
// artifact sources and variables keyed by name.
export type Change = { path: string; before?: string; after?: string; kind: 'ADDED' | 'REMOVED' | 'CHANGED' };

function keyOf(x: Json): string | null {
  if (x && typeof x === 'object' && !Array.isArray(x)) {
    const o = x as Record<string, Json>;
    if (typeof o.alias === 'string') return o.alias;
    if (typeof o.name === 'string') return o.name;
  }
  return null;
}

function flatten(v: Json, path: string, out: Map<string, string>) {
  if (Array.isArray(v)) {
    if (v.every((x) => x === null || typeof x !== 'object')) {
      out.set(path, v.join(', '));
      return;
    }
    const keys = v.map(keyOf);
    const unique = keys.every((k) => k !== null) && new Set(keys).size === keys.length;
    v.forEach((x, i) => flatten(x, `${path}[${unique ? keys[i] : i}]`, out));
    return;
  }
  if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) flatten(x, path ? `${path}.${k}` : k, out);
    return;
  }
  out.set(path, typeof v === 'string' ? v : JSON.stringify(v));
}

export function diff(before: Doc | null, after: Doc): Change[] {
  const a = new Map<string, string>();
  const b = new Map<string, string>();
  if (before) flatten(clean(before), '', a);
  flatten(clean(after), '', b);
  const out: Change[] = [];
  for (const [p, v] of a) {
    if (!b.has(p)) out.push({ path: p, before: v, kind: 'REMOVED' });
    else if (b.get(p) !== v) out.push({ path: p, before: v, after: b.get(p), kind: 'CHANGED' });
  }
  for (const [p, v] of b) if (!a.has(p)) out.push({ path: p, after: v, kind: 'ADDED' });
  return out;
}

function same(a: Json, b: Json): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

// merge re-applies the changes from base to mine on theirs (a save that conflicted): a part
// only one side changed takes that side; both changed: named lists merge by name, objects by
// key, and otherwise mine wins, its path listed in conflicts.
export function merge(base: Json, mine: Json, theirs: Json, path = '', conflicts: string[] = []): Json {
  if (same(mine, base)) return theirs;
  if (same(theirs, base) || same(mine, theirs)) return mine;
  const named = (v: Json) => Array.isArray(v) && v.length > 0 && v.every((x) => keyOf(x) !== null);
  if (named(mine) && named(theirs) && (named(base) || base === undefined)) {
    const bm = new Map(((base as Json[]) ?? []).map((x) => [keyOf(x)!, x]));
    const mm = new Map((mine as Json[]).map((x) => [keyOf(x)!, x]));
    const tm = new Map((theirs as Json[]).map((x) => [keyOf(x)!, x]));
    const order = [...(theirs as Json[]).map((x) => keyOf(x)!)];
    for (const k of mm.keys()) if (!tm.has(k) && !bm.has(k)) order.push(k); // added by me
    const out: Json[] = [];
    for (const k of order) {
      const b = bm.get(k), m = mm.get(k), t = tm.get(k);
      if (m === undefined && b !== undefined) {
        if (!same(t, b)) { conflicts.push(`${path}[${k}]`); out.push(t); } // I removed what they changed: keep theirs
        continue;
      }
      if (t === undefined) { if (b === undefined) out.push(m); continue; } // they removed it
      out.push(merge(b, m, t, `${path}[${k}]`, conflicts));
    }
    return out;
  }
  const isObj = (v: Json) => !!v && typeof v === 'object' && !Array.isArray(v);
  if (isObj(mine) && isObj(theirs)) {
    const b = (isObj(base) ? base : {}) as Record<string, Json>;
    const m = mine as Record<string, Json>, t = theirs as Record<string, Json>;
    const out: Record<string, Json> = {};
    for (const k of new Set([...Object.keys(t), ...Object.keys(m), ...Object.keys(b)])) {
      const v = merge(b[k], m[k], t[k], path ? `${path}.${k}` : k, conflicts);
      if (v !== undefined) out[k] = v;
    }
    return out;
  }
  conflicts.push(path);
  return mine;
}

// fieldId is the id of the input for a document path (environments[1].preApproval.requiredCount).
export function fieldId(path: string): string {
  return 'f-' + path.replace(/[^A-Za-z0-9]+/g, '-').replace(/-$/, '');
}
