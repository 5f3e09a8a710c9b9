// Lists with filters and paging whose state lives in the URL (?actor=ann&after=…), so a
// filtered page survives a reload and can be shared as a link. Paging follows the API's
// connections (cursors): after/first for older, before/last for newer.
import { useState, type FormEvent } from 'react';
import { navigate, useLocation, Link } from './router';

export const PAGE_SIZE = 25;

// useParams returns the page's query parameters.
export function useParams(): URLSearchParams {
  return useLocation().searchParams;
}

// pageVars turns the URL's cursor into a connection's paging arguments.
export function pageVars(p: URLSearchParams, size = PAGE_SIZE): { first?: number; after?: string; last?: number; before?: string } {
  const before = p.get('before');
  if (before) return { last: size, before };
  const after = p.get('after');
  return after ? { first: size, after } : { first: size };
}

// withParams is path?query with the given parameters changed (empty ones dropped).
export function withParams(p: URLSearchParams, change: Record<string, string | undefined>): string {
  const next = new URLSearchParams(p);
  for (const [k, v] of Object.entries(change)) {
    if (v) next.set(k, v);
    else next.delete(k);
  }
  const s = next.toString();
  return location.pathname + (s ? `?${s}` : '');
}

type PageInfo = { hasNextPage: boolean; hasPreviousPage: boolean; startCursor?: string | null; endCursor?: string | null };

// Pager links to the newer and older pages of a newest-first list (byName: the previous and
// next pages of an alphabetical one).
export function Pager({ info, total, shown, label, byName }: { info?: PageInfo; total?: number; shown: number; label: string; byName?: boolean }) {
  const p = useParams();
  if (!info) return null;
  const paged = p.has('after') || p.has('before');
  const newer = p.has('after') || (p.has('before') && info.hasPreviousPage);
  const older = p.has('before') || info.hasNextPage;
  return (
    <nav className="pager" aria-label={`${label} pages`}>
      <span className="small" role="status">{shown} shown{total !== undefined ? ` of ${total}` : ''}</span>
      {paged && <Link href={withParams(p, { after: undefined, before: undefined })}>{byName ? 'First' : 'Newest'}</Link>}
      {newer && info.startCursor && <Link href={withParams(p, { after: undefined, before: info.startCursor })} rel="prev">{byName ? '← Previous' : '← Newer'}</Link>}
      {older && info.endCursor && <Link href={withParams(p, { before: undefined, after: info.endCursor })} rel="next">{byName ? 'Next →' : 'Older →'}</Link>}
    </nav>
  );
}

export type FilterField = {
  name: string;
  label: string;
  // time: an instant, kept in the URL as ISO 8601 (UTC) and edited in local time.
  kind?: 'text' | 'select' | 'time';
  options?: { value: string; label: string }[];
  placeholder?: string;
};

// localInput turns an ISO instant into a datetime-local value (the viewer's time zone).
function localInput(iso: string | null): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (isNaN(d.getTime())) return '';
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

// validTime returns the URL's instant when it parses, else undefined (a hand-edited link).
export function validTime(p: URLSearchParams, name: string): string | undefined {
  const v = p.get(name);
  if (!v) return undefined;
  const d = new Date(v);
  return isNaN(d.getTime()) ? undefined : d.toISOString();
}

// Filters is the filter form of a list: applying it writes the URL (and starts at the newest page).
export function Filters({ id, fields }: { id: string; fields: FilterField[] }) {
  const p = useParams();
  const key = fields.map((f) => p.get(f.name) ?? '').join('\u0000');
  return <FiltersForm key={key} id={id} fields={fields} params={p} />;
}

function FiltersForm({ id, fields, params }: { id: string; fields: FilterField[]; params: URLSearchParams }) {
  const [values, setValues] = useState<Record<string, string>>(() =>
    Object.fromEntries(fields.map((f) => [f.name, f.kind === 'time' ? localInput(params.get(f.name)) : params.get(f.name) ?? ''])));
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const change: Record<string, string | undefined> = { after: undefined, before: undefined };
    for (const f of fields) {
      const v = values[f.name]?.trim() ?? '';
      change[f.name] = f.kind === 'time' && v ? new Date(v).toISOString() : v || undefined;
    }
    navigate(withParams(params, change));
  };
  const active = fields.some((f) => params.get(f.name));
  return (
    <form className="filters" role="search" aria-label="Filters" onSubmit={submit} data-filters={id}>
      {fields.map((f) => {
        const fid = `${id}-${f.name}`;
        const set = (v: string) => setValues((s) => ({ ...s, [f.name]: v }));
        return (
          <label key={f.name} htmlFor={fid}>
            <span>{f.label}</span>
            {f.kind === 'select' ? (
              <select id={fid} name={f.name} value={values[f.name]} onChange={(e) => set(e.target.value)}>
                <option value="">Any</option>
                {(f.options ?? []).map((o) => <option key={o.value} value={o.value}>{o.label}</option>)}
              </select>
            ) : (
              <input id={fid} name={f.name} type={f.kind === 'time' ? 'datetime-local' : 'text'} value={values[f.name]}
                placeholder={f.placeholder} onChange={(e) => set(e.target.value)} />
            )}
          </label>
        );
      })}
      <div className="filter-buttons">
        <button type="submit">Apply</button>
        {active && <Link href={location.pathname}>Clear</Link>}
      </div>
    </form>
  );
}
