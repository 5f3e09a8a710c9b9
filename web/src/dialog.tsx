// A modal dialog (the browser's own <dialog>, opened with showModal: focus is
// kept inside, Escape closes it, the page behind is inert) and the pieces the
// dashboard's forms share: a server error beside the field it names.
import { useEffect, useId, useRef, type ReactNode } from 'react';
import type { APIError } from './api';
import './dialogs.css';

export function Modal({ title, onClose, children, wide }: { title: ReactNode; onClose: () => void; children: ReactNode; wide?: boolean }) {
  const ref = useRef<HTMLDialogElement>(null);
  const id = useId();
  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
    return () => d?.close();
  }, []);
  return (
    <dialog ref={ref} className={`modal${wide ? ' wide' : ''}`} aria-labelledby={id}
      onCancel={(e) => { e.preventDefault(); onClose(); }}>
      <header className="modal-head">
        <h2 id={id}>{title}</h2>
        <button type="button" className="close" aria-label="Close" onClick={onClose}>×</button>
      </header>
      {children}
    </dialog>
  );
}

// fieldOf says whether a server error names field, or a field under it
// ("artifacts[0]" holds "artifacts[0].buildId").
export function fieldOf(error: APIError | null | undefined, field: string): boolean {
  const f = error?.field;
  return !!f && (f === field || f.startsWith(field + '.') || f.startsWith(field + '['));
}

// FieldError shows a server error beside the input it names (INVALID_INPUT's field).
export function FieldError({ id, error, field }: { id: string; error?: APIError | null; field: string }) {
  if (!fieldOf(error, field)) return null;
  return <span className="error small field-error" role="alert" id={id}>{error!.message}</span>;
}

// invalid is the aria attributes of an input that field's error may name.
export function invalid(error: APIError | null | undefined, field: string, id: string) {
  return fieldOf(error, field) ? { 'aria-invalid': true as const, 'aria-describedby': id } : {};
}
