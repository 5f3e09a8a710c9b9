// Create a release by hand: artifact versions picked from the builds the CI
// server reports (the newest one the source admits by default), which
// environments deploy by themselves, values for the variables a release may set
// (the server's releaseTimeVariables: the definition's, its environments' and its
// linked variable groups'), and a description. The server checks
// everything again; its errors appear beside the field they name.
import { useEffect, useState, type FormEvent } from 'react';
import { mutate, query, type APIError } from '../api';
import { Modal, FieldError, fieldOf, invalid } from '../dialog';
import { ErrorNote, Loading, human } from '../ui';
import { navigate } from '../router';
import { graphql } from '../gql';
import type { ArtifactBuildsQuery, CreateReleaseInfoQuery, VariableInput } from '../gql/graphql';

const infoQuery = graphql(`query CreateReleaseInfo($id: ID!) {
  definition(id: $id) {
    id name
    releaseTimeVariables { name value secret declaredIn }
    artifactSources { alias type job primary branchFilters }
    environments { name rank trigger { kind environments } }
  }
}`);
const buildsQuery = graphql(`query ArtifactBuilds($id: ID!, $alias: String!) {
  artifactVersions(definitionId: $id, alias: $alias, first: 20) { buildId buildNumber branch commit result finishedAt admitted }
}`);
const createReleaseM = graphql(`mutation CreateRelease($input: NewReleaseInput!) { createRelease(input: $input) { id name } }`);

type Def = NonNullable<CreateReleaseInfoQuery['definition']>;
type Build = ArtifactBuildsQuery['artifactVersions'][number];

// CreateReleaseButton opens the dialog; shown only when the server says the
// viewer may create releases of the definition (viewerCan.createReleases).
export function CreateReleaseButton({ definitionId, definitionName, can, compact }: { definitionId: string; definitionName: string; can?: boolean; compact?: boolean }) {
  const [open, setOpen] = useState(false);
  if (!can) return null;
  return (
    <>
      <button type="button" className={compact ? 'small-button' : 'primary'} data-action="create-release" onClick={() => setOpen(true)}>
        {compact ? <>New release<span className="sr-only"> of {definitionName}</span></> : 'Create release'}
      </button>
      {open && <CreateReleaseDialog definitionId={definitionId} onClose={() => setOpen(false)} />}
    </>
  );
}

// A source's builds as the CI server lists them, or why they could not be read.
type Builds = { list?: Build[]; error?: APIError };

// A variable settable at release time: where it is declared and its value there (null: a
// secret, or a group's value the viewer may not read).
type Settable = { name: string; where: string[]; value: string | null; secret: boolean };

function settableVariables(def: Def): Settable[] {
  return def.releaseTimeVariables.map((v) => ({ name: v.name, where: v.declaredIn, value: v.value ?? null, secret: v.secret }));
}

export function CreateReleaseDialog({ definitionId, onClose }: { definitionId: string; onClose: () => void }) {
  const [def, setDef] = useState<Def | null>();
  const [loadError, setLoadError] = useState<APIError>();
  const [builds, setBuilds] = useState<Record<string, Builds>>({});
  const [picked, setPicked] = useState<Record<string, string>>({});
  const [auto, setAuto] = useState<Record<string, boolean>>({});
  const [values, setValues] = useState<Record<string, string>>({});
  const [description, setDescription] = useState('');
  const [error, setError] = useState<APIError | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    let live = true;
    query(infoQuery, { id: definitionId }).then((d) => {
      if (!live) return;
      const got = d.definition ?? null;
      setDef(got);
      if (!got) return;
      setAuto(Object.fromEntries((got.environments ?? []).map((e) => [e.name, e.trigger.kind !== 'MANUAL'])));
      for (const s of got.artifactSources ?? []) {
        query(buildsQuery, { id: definitionId, alias: s.alias }).then(
          (b) => {
            if (!live) return;
            setBuilds((m) => ({ ...m, [s.alias]: { list: b.artifactVersions } }));
            const newest = b.artifactVersions.find((x) => x.admitted);
            if (newest) setPicked((m) => (s.alias in m ? m : { ...m, [s.alias]: newest.buildId }));
          },
          (err: APIError) => live && setBuilds((m) => ({ ...m, [s.alias]: { error: err } })),
        );
      }
    }, (err: APIError) => live && setLoadError(err));
    return () => {
      live = false;
    };
  }, [definitionId]);

  if (!def) {
    return (
      <Modal title="Create release" onClose={onClose}>
        <div className="modal-body">{loadError ? <ErrorNote error={loadError} /> : def === null ? <ErrorNote error={new Error('No such definition.')} /> : <Loading what="the definition" />}</div>
      </Modal>
    );
  }
  const sources = [...(def.artifactSources ?? [])].sort((a, b) => Number(b.primary) - Number(a.primary));
  const envs = [...(def.environments ?? [])].sort((a, b) => a.rank - b.rank);
  const settable = settableVariables(def);
  // The order of the artifacts and overrides sent, so that an error's index names its field here.
  const sentSources = sources.filter((s) => picked[s.alias]);
  const sentVars = settable.filter((v) => (values[v.name] ?? '') !== '' || (!v.secret && v.name in values && values[v.name] !== (v.value ?? '')));
  const manual = envs.filter((e) => e.trigger.kind !== 'MANUAL' && !auto[e.name]).map((e) => e.name);

  const submit = async (ev: FormEvent) => {
    ev.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const artifacts = sentSources.map((s) => {
        const b = builds[s.alias]?.list?.find((x) => x.buildId === picked[s.alias]);
        return { alias: s.alias, buildId: picked[s.alias], buildNumber: b?.buildNumber };
      });
      const variableOverrides: VariableInput[] = sentVars.map((v) => ({ name: v.name, value: values[v.name] ?? '', secret: v.secret }));
      const r = await mutate(createReleaseM, { input: {
        definitionId, artifacts, description: description || undefined,
        variableOverrides: variableOverrides.length ? variableOverrides : undefined,
        manualEnvironments: manual.length ? manual : undefined,
      } });
      onClose();
      navigate(`/releases/${r.createRelease.id}`);
    } catch (e) {
      setError(e as APIError);
    } finally {
      setBusy(false);
    }
  };
  // Which of this form's fields a server error names; anything else is shown above the buttons.
  const sourceField = (alias: string) => `artifacts[${sentSources.findIndex((s) => s.alias === alias)}]`;
  const varField = (name: string) => `variableOverrides[${sentVars.findIndex((v) => v.name === name)}]`;
  const named = !!error?.field && (
    sentSources.some((s) => fieldOf(error, sourceField(s.alias))) || sentVars.some((v) => fieldOf(error, varField(v.name))) ||
    fieldOf(error, 'description') || fieldOf(error, 'manualEnvironments') || (fieldOf(error, 'artifacts') && sources.length > 0));

  return (
    <Modal title={`Create a release of ${def.name}`} onClose={onClose} wide>
      <form onSubmit={submit} aria-label={`New release of ${def.name}`} noValidate>
        {sources.length > 0 && (
          <fieldset className="group" data-part="artifacts">
            <legend>Artifacts</legend>
            {error?.field === 'artifacts' && <span className="error small field-error" role="alert">{error.message}</span>}
            {sources.map((s) => {
              const b = builds[s.alias];
              const id = `cr-art-${s.alias}`;
              const field = sourceField(s.alias);
              return (
                <div className="field" key={s.alias}>
                  <label htmlFor={id}>{s.alias}{s.primary ? ' (primary)' : ''} <span className="small">{s.type.toLowerCase()} job {s.job}{s.branchFilters?.length ? `, branches ${s.branchFilters.join(', ')}` : ''}</span></label>
                  {!b ? <Loading what={`the builds of ${s.alias}`} /> : (
                    <select id={id} value={picked[s.alias] ?? ''} disabled={busy} {...invalid(error, field, `${id}-error`)}
                      onChange={(e) => setPicked((m) => ({ ...m, [s.alias]: e.target.value }))}>
                      <option value="">The version of the latest release</option>
                      {(b.list ?? []).map((x) => (
                        <option key={x.buildId} value={x.buildId}>
                          #{x.buildNumber}{x.branch && ` · ${x.branch}`}{x.commit && ` · ${x.commit.slice(0, 8)}`} · {x.result ? human(x.result) : 'running'}{x.admitted ? '' : ' (not admitted)'}
                        </option>
                      ))}
                    </select>
                  )}
                  {b?.error && <span className="small error">The CI server's builds could not be read: {b.error.message}</span>}
                  <FieldError id={`${id}-error`} error={error} field={field} />
                </div>
              );
            })}
          </fieldset>
        )}
        <fieldset className="group" data-part="environments">
          <legend>Deploy automatically</legend>
          {envs.map((e) => {
            const id = `cr-env-${e.name}`;
            const manualTrigger = e.trigger.kind === 'MANUAL';
            const when = e.trigger.kind === 'AFTER_RELEASE' ? 'when the release is created' : manualTrigger ? 'only by hand (its trigger is manual)' : `after ${e.trigger.environments.join(', ')}`;
            return (
              <div className="check" key={e.name}>
                <input type="checkbox" id={id} checked={!!auto[e.name]} disabled={manualTrigger || busy}
                  onChange={(ev) => setAuto((m) => ({ ...m, [e.name]: ev.target.checked }))} />
                <label htmlFor={id}>{e.name} <span className="small">{when}</span></label>
              </div>
            );
          })}
          <FieldError id="cr-env-error" error={error} field="manualEnvironments" />
        </fieldset>
        {settable.length > 0 && (
          <fieldset className="group" data-part="variables">
            <legend>Variables settable at release time</legend>
            {settable.map((v) => {
              const id = `cr-var-${v.name}`;
              const field = varField(v.name);
              return (
                <div className="field" key={v.name}>
                  <label htmlFor={id}>{v.name} <span className="small">({v.where.join(', ')}{v.secret ? '; secret' : ''})</span></label>
                  <input id={id} type={v.secret ? 'password' : 'text'} autoComplete="off" disabled={busy}
                    value={values[v.name] ?? v.value ?? ''} placeholder={v.secret ? 'leave empty to keep the secret' : v.value === null ? 'leave empty to keep the group\u2019s value' : undefined}
                    onChange={(e) => setValues((m) => ({ ...m, [v.name]: e.target.value }))} {...invalid(error, field, `${id}-error`)} />
                  <FieldError id={`${id}-error`} error={error} field={field} />
                </div>
              );
            })}
          </fieldset>
        )}
        <div className="field">
          <label htmlFor="cr-description">Description</label>
          <textarea id="cr-description" value={description} disabled={busy} onChange={(e) => setDescription(e.target.value)} {...invalid(error, 'description', 'cr-description-error')} />
          <FieldError id="cr-description-error" error={error} field="description" />
        </div>
        {error && !named && <ErrorNote error={error} />}
        <div className="buttons">
          <button type="button" onClick={onClose} disabled={busy}>Cancel</button>
          <button type="submit" className="primary" disabled={busy}>{busy ? 'Creating…' : 'Create release'}</button>
        </div>
      </form>
    </Modal>
  );
}
