// Pieces the administration pages share: forms whose server errors appear beside the field
// they name, actions that report their error where they were taken, destructive actions that
// ask first, and secrets shown once.
import { useState, type InputHTMLAttributes, type ReactNode } from 'react';
import type { APIError } from '../../api';
import { ErrorNote } from '../../ui';

// names reports whether the error (INVALID_INPUT's field) names field: the field itself, or one
// of its entries ("tags[2]", "mayUse[0].name").
export function names(error: APIError | undefined, field: string): boolean {
  const f = error?.field;
  return !!f && (f === field || f.startsWith(`${field}[`) || f.startsWith(`${field}.`));
}

// Field is a labelled input with the server's error about it beside it.
export function Field({ id, label, field, error, hint, ...input }: { id: string; label: string; field: string; error?: APIError; hint?: string } & InputHTMLAttributes<HTMLInputElement>) {
  const bad = names(error, field);
  const described = [hint ? `${id}-hint` : '', bad ? `${id}-error` : ''].filter(Boolean).join(' ');
  return (
    <label htmlFor={id}>
      <span>{label}</span>
      <input id={id} name={field} {...input} aria-invalid={bad || undefined} aria-describedby={described || undefined} />
      {hint && <span className="small" id={`${id}-hint`}>{hint}</span>}
      {bad && <span className="error small" role="alert" id={`${id}-error`} data-field-error={field}>{error!.message}</span>}
    </label>
  );
}

// SelectField is Field for a choice.
// hideLabel keeps the label for screen readers only (in a table, whose column header says it).
export function SelectField({ id, label, field, error, value, onChange, options, hideLabel }: { id: string; label: string; field: string; error?: APIError; value: string; onChange: (v: string) => void; options: { value: string; label: string }[]; hideLabel?: boolean }) {
  const bad = names(error, field);
  return (
    <label htmlFor={id}>
      <span className={hideLabel ? 'sr-only' : undefined}>{label}</span>
      <select id={id} name={field} value={value} onChange={(e) => onChange(e.target.value)} aria-invalid={bad || undefined} aria-describedby={bad ? `${id}-error` : undefined}>
        {options.map((o) => <option key={o.value} value={o.value}>{o.label}</option>)}
      </select>
      {bad && <span className="error small" role="alert" id={`${id}-error`} data-field-error={field}>{error!.message}</span>}
    </label>
  );
}

// OtherError shows an error that names none of the form's fields.
export function OtherError({ error, fields }: { error?: APIError; fields: string[] }) {
  if (!error || fields.some((f) => names(error, f))) return null;
  return <ErrorNote error={error} />;
}

export type Action = {
  busy: boolean;
  error?: APIError;
  // run runs f, keeping its error (shown beside the action); true when it succeeded.
  run: (f: () => Promise<unknown>) => Promise<boolean>;
  clear: () => void;
};

// useAction keeps the state of one action: whether it runs and the server's answer if it failed.
export function useAction(): Action {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<APIError>();
  return {
    busy,
    error,
    clear: () => setError(undefined),
    run: async (f) => {
      setBusy(true);
      setError(undefined);
      try {
        await f();
        return true;
      } catch (e) {
        setError(e as APIError);
        return false;
      } finally {
        setBusy(false);
      }
    },
  };
}

// Confirm is a destructive action's button: the first press asks (saying what will happen), the
// second does it. The question is in the page (not a browser dialog), so keyboard and screen
// reader users meet it where they are.
export function Confirm({ label, question, confirmLabel, onConfirm, name }: { label: string; question: ReactNode; confirmLabel?: string; onConfirm: () => Promise<unknown> | void; name?: string }) {
  const [asking, setAsking] = useState(false);
  if (!asking) {
    return <button type="button" className="danger" onClick={() => setAsking(true)} aria-label={name ? `${label} ${name}` : undefined}>{label}</button>;
  }
  return (
    <span className="confirm" role="group" aria-label={`Confirm: ${label}${name ? ` ${name}` : ''}`}>
      <span className="small">{question}</span>{' '}
      <button type="button" className="danger" autoFocus onClick={async () => { setAsking(false); await onConfirm(); }}>{confirmLabel ?? `Yes, ${label.toLowerCase()}`}</button>{' '}
      <button type="button" onClick={() => setAsking(false)}>Cancel</button>
    </span>
  );
}

// ShownOnce shows a secret the server will not show again.
export function ShownOnce({ what, secret, onDismiss }: { what: ReactNode; secret: string; onDismiss: () => void }) {
  return (
    <div className="shown-once" role="status" data-shown-once>
      <p>{what} It is shown once: copy it now.</p>
      <code className="token">{secret}</code>{' '}
      <button type="button" onClick={() => navigator.clipboard?.writeText(secret).catch(() => undefined)}>Copy</button>{' '}
      <button type="button" onClick={onDismiss}>Done</button>
    </div>
  );
}

// principals parses "user:ann, group:ops" (a pool's or group's mayUse) into approvers; a
// malformed entry is an error naming it.
export function principals(text: string): { kind: 'USER' | 'GROUP'; name: string }[] {
  return text.split(',').map((s) => s.trim()).filter(Boolean).map((s) => {
    const m = /^(user|group):\s*(.+)$/i.exec(s);
    if (!m) throw new Error(`"${s}" is not user:NAME or group:NAME`);
    return { kind: m[1].toLowerCase() === 'user' ? 'USER' : 'GROUP', name: m[2].trim() };
  });
}

export function principalsText(list?: { kind: string; name: string }[] | null): string {
  return (list ?? []).map((p) => `${p.kind.toLowerCase()}:${p.name}`).join(', ');
}
