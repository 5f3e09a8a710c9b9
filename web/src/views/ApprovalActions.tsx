// Approve, reject, defer and reassign one approval: each button only when the
// approval's viewerCan allows it (the server's own check).
import { useState } from 'react';
import { mutate, type APIError } from '../api';
import { graphql } from '../gql';

const approveM = graphql(`mutation Approve($input: ApprovalDecisionInput!) { approve(input: $input) { id status } }`);
const rejectM = graphql(`mutation Reject($input: ApprovalDecisionInput!) { reject(input: $input) { id status } }`);
const reassignM = graphql(`mutation Reassign($id: ID!, $to: String!, $comment: String) { reassignApproval(approvalId: $id, toUsername: $to, comment: $comment) { id status } }`);

export type ApprovalCan = { approve: boolean; reject: boolean; reassign: boolean };

export function ApprovalActions({ approvalId, stage, label, can }: { approvalId: string; stage: string; label: string; can: ApprovalCan }) {
  const [comment, setComment] = useState('');
  const [deferUntil, setDeferUntil] = useState('');
  const [to, setTo] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const id = `ap-${approvalId}`;

  async function run(act: () => Promise<unknown>) {
    setBusy(true);
    setError('');
    try {
      await act();
    } catch (e) {
      setError((e as APIError).message);
    } finally {
      setBusy(false);
    }
  }
  const input = () => ({
    approvalId, comment: comment || undefined,
    deferUntil: deferUntil ? new Date(deferUntil).toISOString() : undefined,
  });

  return (
    <form className="approval-actions" aria-label={`Decide ${label}`} onSubmit={(e) => e.preventDefault()}>
      <label htmlFor={`${id}-comment`}>Comment</label>
      <input id={`${id}-comment`} value={comment} onChange={(e) => setComment(e.target.value)} placeholder="optional" />
      {can.approve && stage === 'PRE' && (
        <>
          <label htmlFor={`${id}-defer`}>Deploy at (optional)</label>
          <input id={`${id}-defer`} type="datetime-local" value={deferUntil} onChange={(e) => setDeferUntil(e.target.value)} />
        </>
      )}
      {(can.approve || can.reject) && <div className="buttons">
        {can.approve && <button type="button" className="primary" disabled={busy} onClick={() => run(() => mutate(approveM, { input: input() }))}>
          {deferUntil ? 'Approve and defer' : 'Approve'}
        </button>}
        {can.reject && <button type="button" className="danger" disabled={busy} onClick={() => run(() => mutate(rejectM, { input: { approvalId, comment: comment || undefined } }))}>Reject</button>}
      </div>}
      {can.reassign && <details>
        <summary>Reassign</summary>
        <label htmlFor={`${id}-to`}>Username</label>
        <input id={`${id}-to`} value={to} onChange={(e) => setTo(e.target.value)} />
        <button type="button" disabled={busy || !to} onClick={() => run(() => mutate(reassignM, { id: approvalId, to, comment: comment || undefined }))}>Reassign</button>
      </details>}
      {error && <p role="alert" className="error">{error}</p>}
    </form>
  );
}
