// Shared pieces of the library and administration pages: form fields that show the server's
// error beside the input it names, write-only secrets, and confirmed destructive actions.
import { useEffect, useRef, useState, type ReactNode } from 'react';
import type { APIError } from '../../api';
import { ErrorNote } from '../../ui';
import './library.css';

// names reports whether the error names field: exactly, or a part of it (variables[2].name
// belongs to variables).
export function names(error: APIError | undefined, field: string): boolean {
  const f = error?.field;
  if (!f) return false;
  return f === field || f.startsWith(`${field}.`) || f.startsWith(`${field}[`);
}

// invalid is the attributes that tie an input to the error beside it.
export function invalid(id: string, error: APIError | undefined, field: string) {
  const bad = names(error, field);
  return { id, 'aria-invalid': bad || undefined, 'aria-describedby': bad ? `${id}-error` : undefined };
}

// Field is a labelled input with its hint and, when the server named it, its error.
export function Field({ id, label, field, error, hint, children }: { id: string; label: ReactNode; field: string; error?: APIError; hint?: ReactNode; children: ReactNode }) {
  return (
    <div className="field" data-field={field}>
      <label htmlFor={id}>{label}</label>
      {children}
      {hint && <span className="small">{hint}</span>}
      {names(error, field) && <span className="error small" role="alert" id={`${id}-error`}>{error!.message}</span>}
    </div>
  );
}

// OtherError shows an error that names none of the form's fields (a conflict, a refusal).
export function OtherError({ error, fields }: { error?: APIError; fields: string[] }) {
  if (!error || fields.some((f) => names(error, f))) return null;
  return <ErrorNote error={error} />;
}

// A write-only secret being edited: kept as stored, set to a new value, or cleared.
export type SecretEdit = { kind: 'keep' } | { kind: 'set'; text: string } | { kind: 'clear' };
export const KEEP: SecretEdit = { kind: 'keep' };

// secretValue is what a patch sends: nothing (keep), the new value, or "" (clear).
export function secretValue(s: SecretEdit): string | undefined {
  if (s.kind === 'set') return s.text === '' ? undefined : s.text;
  if (s.kind === 'clear') return '';
  return undefined;
}

// SecretField edits a write-only secret: its value is never shown back, only whether one is
// stored; "Set" or "Replace" opens an empty input, "Clear" removes it.
export function SecretField({ id, label, field, error, stored, value, onChange, multiline, creating, clearable = true, hint }: {
  id: string; label: string; field: string; error?: APIError; stored: boolean; value: SecretEdit; onChange: (s: SecretEdit) => void;
  multiline?: boolean; creating?: boolean; clearable?: boolean; hint?: ReactNode;
}) {
  const open = creating || value.kind === 'set';
  const attrs = invalid(id, error, field);
  const state = value.kind === 'clear' ? 'will be cleared' : stored ? 'set' : 'not set';
  return (
    <div className="field secret" data-secret={field}>
      {open ? <label htmlFor={id}>{label}{!creating && <span className="small"> (write-only: {stored ? 'replaces the stored value' : 'not set yet'})</span>}</label>
        : <span className="label" id={`${id}-label`}>{label}</span>}
      {open ? (
        multiline ? (
          <textarea {...attrs} rows={5} spellCheck={false} autoComplete="off" value={value.kind === 'set' ? value.text : ''}
            onChange={(e) => onChange({ kind: 'set', text: e.target.value })} />
        ) : (
          <input {...attrs} type="password" autoComplete="new-password" value={value.kind === 'set' ? value.text : ''}
            onChange={(e) => onChange({ kind: 'set', text: e.target.value })} />
        )
      ) : (
        <span className="secret-state">
          <span className={`pill ${stored && value.kind !== 'clear' ? 'ok' : 'muted'}`} data-stored={stored && value.kind !== 'clear' ? 'set' : 'unset'}>{state}</span>{' '}
          <button type="button" onClick={() => onChange({ kind: 'set', text: '' })} aria-describedby={`${id}-label`}>{stored ? 'Replace' : 'Set'}</button>
          {stored && clearable && value.kind !== 'clear' && <>{' '}<button type="button" onClick={() => onChange({ kind: 'clear' })} aria-describedby={`${id}-label`}>Clear</button></>}
          {value.kind === 'clear' && <>{' '}<button type="button" onClick={() => onChange(KEEP)} aria-describedby={`${id}-label`}>Keep</button></>}
        </span>
      )}
      {open && !creating && <button type="button" className="link" onClick={() => onChange(KEEP)}>Keep the stored value</button>}
      {hint && <span className="small">{hint}</span>}
      {names(error, field) && <span className="error small" role="alert" id={`${id}-error`}>{error!.message}</span>}
    </div>
  );
}

// ConfirmButton asks before a destructive action: the first press shows what will happen and
// a second button that does it.
export function ConfirmButton({ label, what, question, onConfirm, disabled }: { label: string; what: string; question: ReactNode; onConfirm: () => void | Promise<void>; disabled?: boolean }) {
  const [asking, setAsking] = useState(false);
  const yes = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (asking) yes.current?.focus();
  }, [asking]);
  if (!asking) {
    return <button type="button" className="danger" disabled={disabled} aria-label={`${label} ${what}`} onClick={() => setAsking(true)}>{label}</button>;
  }
  return (
    <span className="confirm" role="group" aria-label={`Confirm: ${label} ${what}`}>
      <span>{question}</span>{' '}
      <button type="button" ref={yes} className="danger" data-confirm onClick={async () => { setAsking(false); await onConfirm(); }}>Yes, {label.toLowerCase()}</button>{' '}
      <button type="button" onClick={() => setAsking(false)}>Cancel</button>
    </span>
  );
}

// lines splits a textarea into its non-empty trimmed lines.
export function lines(s: string): string[] {
  return s.split('\n').map((l) => l.trim()).filter(Boolean);
}

// Approver lists ("group:ops, ann") as the library's permission inputs read them.
export type ApproverKindT = 'USER' | 'GROUP';
export function approversText(list: { kind: ApproverKindT; name: string }[]): string {
  return list.map((a) => (a.kind === 'GROUP' ? `group:${a.name}` : a.name)).join(', ');
}
export function parseApprovers(s: string): { kind: ApproverKindT; name: string }[] {
  return s.split(',').map((x) => x.trim()).filter(Boolean).map((x) => (x.startsWith('group:') ? { kind: 'GROUP' as const, name: x.slice(6).trim() } : { kind: 'USER' as const, name: x }));
}

// when formats an instant in the viewer's time zone.
export function when(iso?: string | null): string {
  if (!iso) return '—';
  const d = new Date(iso);
  return isNaN(d.getTime()) ? iso : d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}
