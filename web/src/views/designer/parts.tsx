// Editors the designer uses in several places: a name → value map (a task's environment
// variables, HTTP headers), an HTTP call (an HTTP gate's, an INVOKE_REST_API task's), a
// release retention policy, and the picker of users and groups the server knows.
import { useEffect, useId, useRef, useState } from 'react';
import { query } from '../../api';
import { graphql } from '../../gql';
import type { ApproverInput, HttpGateInput, RetentionPolicyInput, PrincipalCandidatesQuery } from '../../gql/graphql';
import { Check, Fieldset, FieldProblems, Num, Select, Text } from './fields';

// Pairs edits a list of name/value pairs; each pair's fields are `${path}[i].name` and .value
// when `indexed` (the server names headers so), else the whole map is `path`.
export function Pairs({ path, legend, pairs, onChange, nameLabel, valueLabel, what }: {
  path: string; legend: string; pairs: { name: string; value: string }[]; onChange: (p: { name: string; value: string }[]) => void;
  nameLabel: string; valueLabel: string; what: string;
}) {
  const set = (i: number, p: { name: string; value: string }) => onChange(pairs.map((x, j) => (j === i ? p : x)));
  return (
    <Fieldset legend={legend} className="pairs">
      <FieldProblems path={path} />
      {pairs.length === 0 && <p className="small">None.</p>}
      {pairs.map((p, i) => (
        <div className="row" key={i} data-pair={p.name}>
          <Text path={`${path}[${i}].name`} label={nameLabel} value={p.name} onChange={(v) => set(i, { ...p, name: v })} />
          <Text path={`${path}[${i}].value`} label={valueLabel} value={p.value} onChange={(v) => set(i, { ...p, value: v })} className="wide" />
          <button type="button" className="danger" onClick={() => onChange(pairs.filter((_, j) => j !== i))} aria-label={`Remove ${what} ${p.name}`}>Remove</button>
        </div>
      ))}
      <button type="button" onClick={() => onChange([...pairs, { name: '', value: '' }])} aria-label={`Add ${what} to ${legend.toLowerCase()}`}>Add {what}</button>
    </Fieldset>
  );
}

// EnvMap edits a task's environment variables (a map in the document). Rows are kept as typed
// (an empty or repeated name stays on screen); the document gets the named ones.
export function EnvMap({ path, value, onChange }: { path: string; value: Record<string, string> | null | undefined; onChange: (v: Record<string, string> | undefined) => void }) {
  const fromMap = () => Object.entries(value ?? {}).map(([name, v]) => ({ name, value: String(v) }));
  const [rows, setRows] = useState(fromMap);
  const toMap = (rs: { name: string; value: string }[]) => {
    const m: Record<string, string> = {};
    for (const r of rs) if (r.name.trim()) m[r.name.trim()] = r.value;
    return m;
  };
  const key = JSON.stringify(value ?? {});
  useEffect(() => {
    if (JSON.stringify(toMap(rows)) !== key) setRows(fromMap());
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key]);
  return (
    <Pairs path={path} legend="Environment variables" pairs={rows} nameLabel="Variable" valueLabel="Value" what="variable"
      onChange={(rs) => {
        setRows(rs);
        const m = toMap(rs);
        onChange(Object.keys(m).length ? m : undefined);
      }} />
  );
}

export const httpMethods = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD'];

// HttpCall edits an HTTP call: an HTTP gate's check or an INVOKE_REST_API task's request.
export function HttpCall({ path, value, onChange }: { path: string; value: HttpGateInput; onChange: (v: HttpGateInput) => void }) {
  const up = (patch: Partial<HttpGateInput>) => onChange({ ...value, ...patch });
  const method = value.method ?? 'GET';
  return (
    <div className="http-call">
      <FieldProblems path={path} />
      <div className="row">
        <Select path={`${path}.method`} label="Method" value={method} onChange={(v) => up({ method: v })} options={httpMethods} />
        <Text path={`${path}.url`} label="URL" value={value.url} onChange={(v) => up({ url: v })} className="wide" required placeholder="https://" />
        <Text path={`${path}.successCriteria`} label="Success criteria" placeholder="any 2xx" value={value.successCriteria} onChange={(v) => up({ successCriteria: v })}
          hint='e.g. status == 200 && body.state == "green"' />
        <Num path={`${path}.timeoutSeconds`} label="Call timeout (s)" value={value.timeoutSeconds} onChange={(v) => up({ timeoutSeconds: v })} />
      </div>
      <Pairs path={`${path}.headers`} legend="Headers" pairs={value.headers ?? []} nameLabel="Header" valueLabel="Header value" what="header"
        onChange={(h) => up({ headers: h })} />
      {method !== 'GET' && method !== 'HEAD' && (
        <Text path={`${path}.body`} label="Body" multiline value={value.body} onChange={(v) => up({ body: v })} className="wide" hint="may name $(variables)" />
      )}
    </div>
  );
}

// Retention edits an environment's release retention; unchecked, the server's default applies.
export function Retention({ path, value, onChange }: { path: string; value: RetentionPolicyInput | null | undefined; onChange: (v: RetentionPolicyInput | undefined) => void }) {
  const own = !!value;
  const id = useId();
  return (
    <Fieldset legend="Release retention" className="retention">
      <div className="field check">
        <input id={id} type="checkbox" checked={own} onChange={(e) => onChange(e.target.checked ? { daysToKeep: 30, releasesToKeep: 3 } : undefined)} />
        <label htmlFor={id}>Own policy (unchecked: the server&rsquo;s default)</label>
      </div>
      <FieldProblems path={path} />
      {value && (
        <div className="row">
          <Num path={`${path}.daysToKeep`} label="Days to keep" value={value.daysToKeep} onChange={(v) => onChange({ ...value, daysToKeep: v ?? 0 })} />
          <Num path={`${path}.releasesToKeep`} label="Releases to keep" value={value.releasesToKeep} onChange={(v) => onChange({ ...value, releasesToKeep: v ?? 0 })} />
          <Check path={`${path}.retainBuild`} label="Retain the build (informational)" value={value.retainBuild} onChange={(v) => onChange({ ...value, retainBuild: v })} />
        </div>
      )}
    </Fieldset>
  );
}

const candidatesQuery = graphql(`query PrincipalCandidates($search: String!) {
  principalCandidates(search: $search, first: 8) { kind name detail }
}`);
type Candidate = PrincipalCandidatesQuery['principalCandidates'][number];

// Approvers is a list of users and groups: each listed one with the server's problem beside
// it, and a picker that offers the users and groups the server knows whose name contains what
// is typed (a person picks one; a name the server does not know cannot be typed in, and one
// that a JSON edit or a deleted user brings is named by the server's problem on save).
export function Approvers({ path, label, value, onChange, empty }: { path: string; label: string; value: ApproverInput[]; onChange: (v: ApproverInput[]) => void; empty?: string }) {
  const [text, setText] = useState('');
  const [found, setFound] = useState<Candidate[] | null>(null);
  const [active, setActive] = useState(0);
  const [failed, setFailed] = useState<string | null>(null);
  const seq = useRef(0);
  const base = useId();
  const inputId = `${base}-input`;
  const listId = `${base}-list`;
  useEffect(() => {
    const s = text.trim();
    if (!s) {
      setFound(null);
      return;
    }
    const n = ++seq.current;
    const t = setTimeout(() => {
      query(candidatesQuery, { search: s }).then(
        (d) => { if (n === seq.current) { setFound(d.principalCandidates); setActive(0); setFailed(null); } },
        (e: Error) => { if (n === seq.current) { setFound([]); setFailed(e.message); } },
      );
    }, 150);
    return () => clearTimeout(t);
  }, [text]);
  const listed = (c: Candidate) => value.some((a) => a.kind === c.kind && a.name === c.name);
  const offered = (found ?? []).filter((c) => !listed(c));
  const pick = (c: Candidate) => {
    onChange([...value, { kind: c.kind, name: c.name }]);
    setText('');
    setFound(null);
  };
  const open = !!text.trim() && found !== null;
  return (
    <div className="approvers" role="group" aria-label={label} data-approvers={path}>
      <span className="label">{label}</span>
      {value.length === 0 && empty && <span className="small"> {empty}</span>}
      <FieldProblems path={path} />
      <ul className="plain chips">
        {value.map((a, i) => (
          <li key={`${a.kind}:${a.name}:${i}`} className="chip" data-approver={`${a.kind}:${a.name}`} id={`${base}-${i}`}>
            <span>{a.kind === 'GROUP' ? 'group' : 'user'} <strong>{a.name}</strong></span>
            <button type="button" className="danger small-button" onClick={() => onChange(value.filter((_, j) => j !== i))} aria-label={`Remove ${a.kind === 'GROUP' ? 'group' : 'user'} ${a.name} from ${label}`}>Remove</button>
            <FieldProblems path={`${path}[${i}]`} />
            <FieldProblems path={`${path}[${i}].name`} />
            <FieldProblems path={`${path}[${i}].kind`} />
          </li>
        ))}
      </ul>
      <div className="picker">
        <label htmlFor={inputId} className="sr-only">Add a user or group to {label}</label>
        <input id={inputId} type="text" role="combobox" aria-expanded={open} aria-controls={listId} aria-autocomplete="list" autoComplete="off"
          aria-activedescendant={open && offered[active] ? `${listId}-${active}` : undefined}
          placeholder="Add a user or group…" value={text} onChange={(e) => setText(e.target.value)}
          onKeyDown={(e) => {
            if (!open) return;
            if (e.key === 'ArrowDown') { e.preventDefault(); setActive((a) => Math.min(a + 1, offered.length - 1)); }
            else if (e.key === 'ArrowUp') { e.preventDefault(); setActive((a) => Math.max(a - 1, 0)); }
            else if (e.key === 'Enter') { e.preventDefault(); if (offered[active]) pick(offered[active]); }
            else if (e.key === 'Escape') { setText(''); }
          }} />
        <ul id={listId} role="listbox" className="suggestions" aria-label={`Users and groups for ${label}`} hidden={!open}>
          {open && offered.map((c, i) => (
            <li key={`${c.kind}:${c.name}`} id={`${listId}-${i}`} role="option" aria-selected={i === active} data-candidate={`${c.kind}:${c.name}`}
              onMouseDown={(e) => e.preventDefault()} onClick={() => pick(c)}>
              <span className="small">{c.kind === 'GROUP' ? 'group' : 'user'}</span> {c.name}{c.detail ? <span className="small"> — {c.detail}</span> : null}
            </li>
          ))}
        </ul>
        {open && offered.length === 0 && <span className="small" role="status">{failed ?? `No user or group matches “${text.trim()}”.`}</span>}
      </div>
    </div>
  );
}
