import { useState } from 'react';
import { useLive } from '../hooks';
import { query, type APIError } from '../api';
import { Ago, ErrorNote, Loading, Page, edges } from '../ui';
import { Link } from '../router';
import { graphql } from '../gql';
import type { DiffQuery } from '../gql/graphql';

const revQuery = graphql(`query Revisions($id: ID!) {
  definitionRevisions(definitionID: $id, first: 100, orderBy: {field: REVISION, direction: DESC}) {
    edges { node { id revision changeType author comment createdAt } }
  }
}`);
const diffQuery = graphql(`query Diff($id: ID!, $from: Int!, $to: Int!) { definitionDiff(id: $id, from: $from, to: $to) { path before after kind } }`);

export function Revisions({ id }: { id: string }) {
  const q = useLive(revQuery, { id }, (ev) => ev.definitionId === id && ev.__typename === 'ReleaseCreatedEvent');
  const revs = edges(q.data?.definitionRevisions);
  const [from, setFrom] = useState<number | ''>('');
  const [to, setTo] = useState<number | ''>('');
  const [diff, setDiff] = useState<DiffQuery['definitionDiff'] | null>(null);
  const [error, setError] = useState<APIError | null>(null);
  async function show() {
    setError(null);
    try {
      const d = await query(diffQuery, { id, from: Number(from), to: Number(to) });
      setDiff(d.definitionDiff);
    } catch (e) {
      setError(e as APIError);
    }
  }
  return (
    <Page title="Definition revisions" actions={<Link href={`/definitions/${id}`}>Back to the definition</Link>}>
      <ErrorNote error={q.error} />
      {q.loading && !q.data ? <Loading what="revisions" /> : (
        <table>
          <thead><tr><th scope="col">Revision</th><th scope="col">Change</th><th scope="col">Author</th><th scope="col">When</th><th scope="col">Comment</th></tr></thead>
          <tbody>
            {revs.map((r) => (
              <tr key={r.id}><td>{r.revision}</td><td>{r.changeType.toLowerCase()}</td><td>{r.author}</td><td><Ago time={r.createdAt} /></td><td>{r.comment}</td></tr>
            ))}
          </tbody>
        </table>
      )}
      <h2>Compare</h2>
      <form className="inline" onSubmit={(e) => { e.preventDefault(); show(); }}>
        <label htmlFor="rev-from">From revision</label>
        <select id="rev-from" value={from} onChange={(e) => setFrom(Number(e.target.value))}>
          <option value="">—</option>
          {revs.map((r) => <option key={r.id} value={r.revision}>{r.revision}</option>)}
        </select>
        <label htmlFor="rev-to">to revision</label>
        <select id="rev-to" value={to} onChange={(e) => setTo(Number(e.target.value))}>
          <option value="">—</option>
          {revs.map((r) => <option key={r.id} value={r.revision}>{r.revision}</option>)}
        </select>
        <button type="submit" disabled={from === '' || to === ''}>Show differences</button>
      </form>
      <ErrorNote error={error} />
      {diff && (diff.length === 0 ? <p>No differences.</p> : (
        <table className="diff">
          <thead><tr><th scope="col">Field</th><th scope="col">Before</th><th scope="col">After</th></tr></thead>
          <tbody>
            {diff.map((c, i) => (
              <tr key={i} className={c.kind.toLowerCase()}>
                <td><code>{c.path}</code> <span className="small">({c.kind.toLowerCase()})</span></td>
                <td><del>{c.before ?? ''}</del></td>
                <td><ins>{c.after ?? ''}</ins></td>
              </tr>
            ))}
          </tbody>
        </table>
      ))}
    </Page>
  );
}
