// An environment's freeze windows. They are not part of the definition's document (each is
// created and deleted on its own, audited), so they are written at once, and only for a
// definition that is saved.
import { useEffect, useState } from 'react';
import { mutate, query, type APIError } from '../../api';
import { graphql } from '../../gql';
import type { DesignerFreezeWindowsQuery, FreezeWindowMode } from '../../gql/graphql';
import { ErrorNote } from '../../ui';
import { Fieldset } from './fields';

const windowsQuery = graphql(`query DesignerFreezeWindows($id: ID!) {
  freezeWindows(definitionId: $id) { id name reason environment mode startsAt endsAt cron durationMinutes timeZone active }
}`);
const createWindow = graphql(`mutation DesignerCreateFreezeWindow($input: FreezeWindowInput!) { createFreezeWindow(input: $input) { id } }`);
const deleteWindow = graphql(`mutation DesignerDeleteFreezeWindow($id: ID!) { deleteFreezeWindow(id: $id) }`);

type Window = DesignerFreezeWindowsQuery['freezeWindows'][number];

export function FreezeWindows({ definitionId, environment }: { definitionId?: string; environment: string }) {
  const [list, setList] = useState<Window[]>([]);
  const [error, setError] = useState<APIError | null>(null);
  const [name, setName] = useState('');
  const [mode, setMode] = useState<FreezeWindowMode>('WAIT');
  const [cron, setCron] = useState('');
  const [duration, setDuration] = useState('60');
  const [tz, setTz] = useState('UTC');
  const [tick, setTick] = useState(0);
  useEffect(() => {
    if (!definitionId) return;
    let live = true;
    query(windowsQuery, { id: definitionId }).then((d) => live && setList(d.freezeWindows), (e) => live && setError(e));
    return () => {
      live = false;
    };
  }, [definitionId, tick]);
  const mine = list.filter((w) => w.environment === environment);
  const add = async () => {
    setError(null);
    try {
      await mutate(createWindow, { input: { name, definitionId, environment, mode, cron, durationMinutes: Number(duration), timeZone: tz } });
      setName('');
      setCron('');
      setTick((n) => n + 1);
    } catch (e) {
      setError(e as APIError);
    }
  };
  const remove = async (id: string) => {
    try {
      await mutate(deleteWindow, { id });
      setTick((n) => n + 1);
    } catch (e) {
      setError(e as APIError);
    }
  };
  const idp = `freeze-${environment.replace(/[^A-Za-z0-9]+/g, '-')}`;
  return (
    <Fieldset legend="Freeze windows">
      {!definitionId ? <p className="small">Save the definition first; freeze windows are then added here at once.</p> : (
        <>
          {mine.length === 0 ? <p className="small">No freeze windows.</p> : (
            <ul className="plain">
              {mine.map((w) => (
                <li key={w.id} data-freeze={w.name}>
                  <strong>{w.name}</strong> ({w.mode === 'WAIT' ? 'deployments wait' : 'deployments refused'}){' '}
                  {w.cron ? <>every <code>{w.cron}</code> for {w.durationMinutes} min ({w.timeZone})</> : <>from {w.startsAt} to {w.endsAt}</>}
                  {w.active && <span className="pill wait"> active</span>}{' '}
                  <button type="button" className="danger" onClick={() => remove(w.id)} aria-label={`Delete freeze window ${w.name}`}>Delete</button>
                </li>
              ))}
            </ul>
          )}
          <div className="row">
            <div className="field"><label htmlFor={`${idp}-name`}>Window name</label><input id={`${idp}-name`} value={name} onChange={(e) => setName(e.target.value)} /></div>
            <div className="field"><label htmlFor={`${idp}-cron`}>Starts (cron)</label><input id={`${idp}-cron`} placeholder="0 18 * * 5" value={cron} onChange={(e) => setCron(e.target.value)} /></div>
            <div className="field num"><label htmlFor={`${idp}-dur`}>For (min)</label><input id={`${idp}-dur`} type="number" value={duration} onChange={(e) => setDuration(e.target.value)} /></div>
            <div className="field"><label htmlFor={`${idp}-tz`}>Time zone</label><input id={`${idp}-tz`} value={tz} onChange={(e) => setTz(e.target.value)} /></div>
            <div className="field"><label htmlFor={`${idp}-mode`}>Mode</label>
              <select id={`${idp}-mode`} value={mode} onChange={(e) => setMode(e.target.value as FreezeWindowMode)}>
                <option value="WAIT">Deployments wait</option><option value="REFUSE">Deployments are refused</option>
              </select>
            </div>
            <button type="button" onClick={add} disabled={!name || !cron}>Add freeze window</button>
          </div>
          <ErrorNote error={error} />
        </>
      )}
    </Fieldset>
  );
}
