// Freeze windows: spans (or recurring ones) during which deployments wait or are refused,
// global, for a definition or for one of its environments.
import { useState, type FormEvent } from 'react';
import { mutate, type APIError } from '../../api';
import { useLive } from '../../hooks';
import { useMayCall } from '../../may';
import { Link } from '../../router';
import { ErrorNote, Loading, Page } from '../../ui';
import { graphql } from '../../gql';
import type { FreezeWindowMode, FreezeWindowsPageQuery } from '../../gql/graphql';
import { ConfirmButton, Field, OtherError, invalid, when } from './common';
import { useDefinitions } from './usage';

const windowsQuery = graphql(`query FreezeWindowsPage {
  freezeWindows {
    id name reason definitionID environment mode startsAt endsAt cron durationMinutes timeZone createdBy
    active activeUntil nextStartsAt
  }
}`);
const createMutation = graphql(`mutation CreateFreezeWindowForm($input: FreezeWindowInput!) { createFreezeWindow(input: $input) { id name } }`);
const updateMutation = graphql(`mutation UpdateFreezeWindowForm($id: ID!, $input: FreezeWindowInput!) { updateFreezeWindow(id: $id, input: $input) { id name } }`);
const deleteMutation = graphql(`mutation DeleteFreezeWindowForm($id: ID!) { deleteFreezeWindow(id: $id) }`);

type Window = FreezeWindowsPageQuery['freezeWindows'][number];
const modes: Record<FreezeWindowMode, string> = { WAIT: 'Wait: deployments queue until it ends', REFUSE: 'Refuse: deployment requests are refused' };

// FreezeWindows lists the global windows and those of the definitions the viewer may read.
export function FreezeWindows() {
  const q = useLive(windowsQuery, {}, (ev) => ev.__typename === 'FreezeStartedEvent' || ev.__typename === 'FreezeEndedEvent');
  const may = useMayCall('Mutation.createFreezeWindow', 'Mutation.updateFreezeWindow', 'Mutation.deleteFreezeWindow');
  const { defs } = useDefinitions();
  const [creating, setCreating] = useState(false);
  const [editing, setEditing] = useState<string>();
  const [error, setError] = useState<APIError>();
  const [note, setNote] = useState<string>();
  const list = q.data?.freezeWindows ?? [];
  const editingWindow = list.find((w) => w.id === editing);
  const actions = may?.has('Mutation.deleteFreezeWindow') || may?.has('Mutation.updateFreezeWindow');
  const scope = (w: Window) => {
    if (w.definitionID == null) return <>All definitions</>;
    const d = defs.find((x) => x.id === String(w.definitionID));
    const link = <Link href={`/definitions/${w.definitionID}`}>{d?.name ?? `definition ${w.definitionID}`}</Link>;
    return w.environment ? <>{link} · {w.environment}</> : <>{link} (every environment)</>;
  };
  const remove = async (w: Window) => {
    setError(undefined);
    try {
      await mutate(deleteMutation, { id: w.id });
      setNote(`Freeze window ${w.name} deleted.`);
      q.reload();
    } catch (e) {
      setError(e as APIError);
    }
  };
  return (
    <Page title="Freeze windows" actions={may?.has('Mutation.createFreezeWindow') && !creating
      ? <button type="button" className="primary" onClick={() => { setCreating(true); setEditing(undefined); setNote(undefined); }}>New freeze window</button> : undefined}>
      <p className="small">While a window is active, the deployments it covers wait in the queue (or are refused); deployments already running go on. A global window needs an ADMIN; a definition’s or an environment’s needs the right to edit it (changing a window needs that right for where it holds now and where it will hold).</p>
      {creating && <WindowForm defs={defs} onCancel={() => setCreating(false)} onDone={(m) => { setCreating(false); setNote(m); q.reload(); }} />}
      {editingWindow && <WindowForm key={editingWindow.id} existing={editingWindow} defs={defs} onCancel={() => setEditing(undefined)} onDone={(m) => { setEditing(undefined); setNote(m); q.reload(); }} />}
      {note && <p role="status" data-note>{note}</p>}
      <ErrorNote error={error ?? q.error} />
      {q.loading && !q.data ? <Loading what="freeze windows" /> : list.length === 0 ? <p>No freeze windows.</p> : (
        <div className="scroll-x" role="region" aria-label="Freeze windows" tabIndex={0}>
          <table data-testid="freeze-windows">
            <thead><tr><th scope="col">Name</th><th scope="col">Holds</th><th scope="col">When</th><th scope="col">Mode</th><th scope="col">Now</th>{actions && <th scope="col">Actions</th>}</tr></thead>
            <tbody>
              {list.map((w) => (
                <tr key={w.id} data-window={w.name} data-active={w.active}>
                  <th scope="row">{w.name}{w.reason && <div className="small">{w.reason}</div>}<div className="small">by {w.createdBy}</div></th>
                  <td>{scope(w)}</td>
                  <td>{w.cron ? <><code>{w.cron}</code> for {w.durationMinutes} min <span className="small">({w.timeZone || 'UTC'})</span></> : <>{when(w.startsAt)} – {when(w.endsAt)}</>}</td>
                  <td>{w.mode === 'REFUSE' ? 'Refuse' : 'Wait'}</td>
                  <td>{w.active ? <span className="pill wait">Frozen until {when(w.activeUntil)}</span> : w.nextStartsAt ? <span className="small">next {when(w.nextStartsAt)}</span> : <span className="pill muted">Over</span>}</td>
                  {actions && (
                    <td><div className="row-actions">
                      {may?.has('Mutation.updateFreezeWindow') && <button type="button" aria-label={`Edit ${w.name}`} onClick={() => { setEditing(w.id); setCreating(false); setNote(undefined); }}>Edit</button>}
                      {may?.has('Mutation.deleteFreezeWindow') && <ConfirmButton label="Delete" what={w.name} question={<>Delete freeze window <strong>{w.name}</strong>?{w.active ? ' Waiting deployments go on.' : ''}</>} onConfirm={() => remove(w)} />}
                    </div></td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Page>
  );
}

// toISO turns a datetime-local value (the viewer's time zone) into an instant.
function toISO(v: string): string | undefined {
  if (!v) return undefined;
  const d = new Date(v);
  return isNaN(d.getTime()) ? undefined : d.toISOString();
}

// localValue turns an instant into a datetime-local value (the viewer's time zone).
function localValue(iso?: string | null): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (isNaN(d.getTime())) return '';
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

// WindowForm creates a window, or (existing) replaces one.
function WindowForm({ defs, existing, onDone, onCancel }: { defs: { id: string; name: string; environments: string[] }[]; existing?: Window; onDone: (m: string) => void; onCancel: () => void }) {
  const [name, setName] = useState(existing?.name ?? '');
  const [reason, setReason] = useState(existing?.reason ?? '');
  const [definition, setDefinition] = useState(existing?.definitionID != null ? String(existing.definitionID) : '');
  const [environment, setEnvironment] = useState(existing?.environment ?? '');
  const [mode, setMode] = useState<FreezeWindowMode>(existing?.mode ?? 'WAIT');
  const [recurring, setRecurring] = useState(!!existing?.cron);
  const [startsAt, setStartsAt] = useState(localValue(existing?.startsAt));
  const [endsAt, setEndsAt] = useState(localValue(existing?.endsAt));
  const [cron, setCron] = useState(existing?.cron ?? '');
  const [duration, setDuration] = useState(existing?.cron ? String(existing.durationMinutes) : '');
  const [timeZone, setTimeZone] = useState(() => existing?.cron ? existing.timeZone : Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC');
  const id = existing ? `freeze-${existing.id}` : 'freeze';
  const [error, setError] = useState<APIError>();
  const def = defs.find((d) => d.id === definition);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(undefined);
    try {
      const input = {
        name, reason, mode,
        ...(definition ? { definitionId: definition } : {}),
        ...(environment ? { environment } : {}),
        ...(recurring
          ? { cron, durationMinutes: duration === '' ? undefined : Number(duration), timeZone }
          : { startsAt: toISO(startsAt), endsAt: toISO(endsAt) }),
      };
      if (existing) {
        const d = await mutate(updateMutation, { id: existing.id, input });
        onDone(`Freeze window ${d.updateFreezeWindow.name} saved.`);
      } else {
        const d = await mutate(createMutation, { input });
        onDone(`Freeze window ${d.createFreezeWindow.name} created.`);
      }
    } catch (err) {
      setError(err as APIError);
    }
  };
  const fields = ['name', 'reason', 'definitionId', 'environment', 'mode', 'startsAt', 'endsAt', 'cron', 'durationMinutes', 'timeZone'];
  return (
    <form className="edit" onSubmit={submit} aria-labelledby={`${id}-title`} data-form="freeze">
      <h2 id={`${id}-title`}>{existing ? `Edit ${existing.name}` : 'New freeze window'}</h2>
      <Field id={`${id}-name`} label="Name" field="name" error={error}>
        <input {...invalid(`${id}-name`, error, 'name')} autoFocus value={name} required onChange={(e) => setName(e.target.value)} />
      </Field>
      <Field id={`${id}-reason`} label="Reason" field="reason" error={error} hint="Shown to whoever’s deployment waits">
        <input {...invalid(`${id}-reason`, error, 'reason')} value={reason} onChange={(e) => setReason(e.target.value)} />
      </Field>
      <Field id={`${id}-def`} label="Definition" field="definitionId" error={error}>
        <select {...invalid(`${id}-def`, error, 'definitionId')} value={definition} onChange={(e) => { setDefinition(e.target.value); setEnvironment(''); }}>
          <option value="">All definitions (global)</option>
          {defs.map((d) => <option key={d.id} value={d.id}>{d.name}</option>)}
        </select>
      </Field>
      {def && (
        <Field id={`${id}-env`} label="Environment" field="environment" error={error}>
          <select {...invalid(`${id}-env`, error, 'environment')} value={environment} onChange={(e) => setEnvironment(e.target.value)}>
            <option value="">Every environment of {def.name}</option>
            {def.environments.map((n) => <option key={n} value={n}>{n}</option>)}
          </select>
        </Field>
      )}
      <Field id={`${id}-mode`} label="Mode" field="mode" error={error}>
        <select {...invalid(`${id}-mode`, error, 'mode')} value={mode} onChange={(e) => setMode(e.target.value as FreezeWindowMode)}>
          {(Object.keys(modes) as FreezeWindowMode[]).map((m) => <option key={m} value={m}>{modes[m]}</option>)}
        </select>
      </Field>
      <span className="check"><input type="checkbox" id={`${id}-recurring`} checked={recurring} onChange={(e) => setRecurring(e.target.checked)} /><label htmlFor={`${id}-recurring`}>Recurring (a cron schedule)</label></span>
      {recurring ? (
        <>
          <Field id={`${id}-cron`} label="Starts (cron, five fields)" field="cron" error={error} hint="e.g. 0 18 * * 5 (Fridays at 18:00)">
            <input {...invalid(`${id}-cron`, error, 'cron')} value={cron} onChange={(e) => setCron(e.target.value)} />
          </Field>
          <Field id={`${id}-duration`} label="Lasts (minutes)" field="durationMinutes" error={error}>
            <input {...invalid(`${id}-duration`, error, 'durationMinutes')} type="number" inputMode="numeric" value={duration} onChange={(e) => setDuration(e.target.value)} />
          </Field>
          <Field id={`${id}-tz`} label="Time zone" field="timeZone" error={error} hint="IANA, e.g. Europe/Paris">
            <input {...invalid(`${id}-tz`, error, 'timeZone')} value={timeZone} onChange={(e) => setTimeZone(e.target.value)} />
          </Field>
        </>
      ) : (
        <>
          <Field id={`${id}-starts`} label="Starts (your time)" field="startsAt" error={error}>
            <input {...invalid(`${id}-starts`, error, 'startsAt')} type="datetime-local" value={startsAt} onChange={(e) => setStartsAt(e.target.value)} />
          </Field>
          <Field id={`${id}-ends`} label="Ends (your time)" field="endsAt" error={error}>
            <input {...invalid(`${id}-ends`, error, 'endsAt')} type="datetime-local" value={endsAt} onChange={(e) => setEndsAt(e.target.value)} />
          </Field>
        </>
      )}
      <OtherError error={error} fields={fields} />
      <div className="row-actions">
        <button type="submit" className="primary">{existing ? 'Save' : 'Create freeze window'}</button>
        <button type="button" onClick={onCancel}>Cancel</button>
      </div>
    </form>
  );
}
