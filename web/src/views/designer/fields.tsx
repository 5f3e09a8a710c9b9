// Form fields of the designer. Each names the document path it edits; a problem the server
// reported for that path (INVALID_INPUT's extensions.problems) is shown beside it.
import { createContext, useContext, useEffect, useState, type ReactNode } from 'react';
import { fieldId } from './model';

export type Problem = { field: string; message: string };
export const Problems = createContext<Problem[]>([]);

function useProblem(path: string): Problem[] {
  return useContext(Problems).filter((p) => p.field === path);
}

export function FieldProblems({ path }: { path: string }) {
  const ps = useProblem(path);
  if (!ps.length) return null;
  return <span className="error small field-error" role="alert" id={fieldId(path) + '-error'} data-field={path}>{ps.map((p) => p.message).join('; ')}</span>;
}

function aria(path: string, has: boolean) {
  return has ? { 'aria-invalid': true as const, 'aria-describedby': fieldId(path) + '-error' } : {};
}

type Common = { path: string; label: string; hint?: string; className?: string };

export function Text({ path, label, hint, value, onChange, type = 'text', required, placeholder, className, multiline }: Common & {
  value: string | null | undefined; onChange: (v: string) => void; type?: string; required?: boolean; placeholder?: string; multiline?: boolean;
}) {
  const bad = useProblem(path).length > 0;
  const id = fieldId(path);
  return (
    <div className={`field ${className ?? ''}`}>
      <label htmlFor={id}>{label}{required && <span aria-hidden="true"> *</span>}</label>
      {multiline ? (
        <textarea id={id} value={value ?? ''} required={required} placeholder={placeholder} rows={4} onChange={(e) => onChange(e.target.value)} {...aria(path, bad)} />
      ) : (
        <input id={id} type={type} value={value ?? ''} required={required} placeholder={placeholder} onChange={(e) => onChange(e.target.value)} {...aria(path, bad)} />
      )}
      {hint && <span className="small">{hint}</span>}
      <FieldProblems path={path} />
    </div>
  );
}

export function Num({ path, label, value, onChange, hint }: Common & { value: number | null | undefined; onChange: (v: number | undefined) => void }) {
  const bad = useProblem(path).length > 0;
  const id = fieldId(path);
  return (
    <div className="field num">
      <label htmlFor={id}>{label}</label>
      <input id={id} type="number" inputMode="numeric" value={value ?? ''} onChange={(e) => onChange(e.target.value === '' ? undefined : Number(e.target.value))} {...aria(path, bad)} />
      {hint && <span className="small">{hint}</span>}
      <FieldProblems path={path} />
    </div>
  );
}

export function Check({ path, label, value, onChange }: Common & { value: boolean | null | undefined; onChange: (v: boolean) => void }) {
  const bad = useProblem(path).length > 0;
  const id = fieldId(path);
  return (
    <div className="field check">
      <input id={id} type="checkbox" checked={!!value} onChange={(e) => onChange(e.target.checked)} {...aria(path, bad)} />
      <label htmlFor={id}>{label}</label>
      <FieldProblems path={path} />
    </div>
  );
}

export function Select({ path, label, value, onChange, options, hint }: Common & {
  value: string | null | undefined; onChange: (v: string) => void; options: (string | [string, string])[];
}) {
  const bad = useProblem(path).length > 0;
  const id = fieldId(path);
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <select id={id} value={value ?? ''} onChange={(e) => onChange(e.target.value)} {...aria(path, bad)}>
        {options.map((o) => {
          const [v, l] = Array.isArray(o) ? o : [o, o];
          return <option key={v} value={v}>{l}</option>;
        })}
      </select>
      {hint && <span className="small">{hint}</span>}
      <FieldProblems path={path} />
    </div>
  );
}

// List is a comma-separated list of strings (branch filters, demands, tags). The text is kept
// as typed (a trailing comma stays while typing); the document gets the parsed list.
export function List({ path, label, value, onChange, hint }: Common & { value: string[] | null | undefined; onChange: (v: string[]) => void }) {
  const joined = (value ?? []).join(', ');
  const [text, setText] = useState(joined);
  const parse = (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean);
  useEffect(() => {
    if (parse(text).join(', ') !== joined) setText(joined);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [joined]);
  return <Text path={path} label={label} hint={hint ?? 'comma-separated'} value={text}
    onChange={(v) => { setText(v); onChange(parse(v)); }} />;
}

export function Fieldset({ legend, children, className }: { legend: ReactNode; children: ReactNode; className?: string }) {
  return <fieldset className={`group ${className ?? ''}`}><legend>{legend}</legend>{children}</fieldset>;
}
