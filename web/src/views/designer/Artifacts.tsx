// The artifact sources of a definition: a service connection and a CI job each, with the
// job's recent builds listed from the CI server (sourceBuilds) while it is written.
import { useState } from 'react';
import { query, type APIError } from '../../api';
import { graphql } from '../../gql';
import type { ArtifactSourceInput, DesignerBuildsQuery } from '../../gql/graphql';
import { Ago, ErrorNote, ExternalLink, Status } from '../../ui';
import { Check, Fieldset, List, Select, Text } from './fields';
import type { Connection } from './Tasks';

const buildsQuery = graphql(`query DesignerBuilds($source: ArtifactSourceInput!) {
  sourceBuilds(source: $source, first: 10) { buildId buildNumber branch commit buildUrl result finishedAt }
}`);

const connectionKind: Record<string, string> = { JENKINS: 'JENKINS', TEAMBUILD: 'AZURE_DEVOPS' };

export function Artifacts({ sources, connections, onChange }: { sources: ArtifactSourceInput[]; connections: Connection[]; onChange: (s: ArtifactSourceInput[]) => void }) {
  const set = (i: number, s: ArtifactSourceInput) => onChange(sources.map((x, j) => (j === i ? s : x)));
  return (
    <section aria-labelledby="artifacts-title" className="designer-section">
      <h2 id="artifacts-title">Artifacts</h2>
      {sources.length === 0 && <p className="small">No artifact sources: releases are created by hand without builds.</p>}
      {sources.map((s, i) => <Source key={i} index={i} source={s} connections={connections} onChange={(x) => set(i, x)}
        onPrimary={() => onChange(sources.map((x, j) => ({ ...x, primary: j === i })))} onRemove={() => onChange(sources.filter((_, j) => j !== i))} />)}
      <button type="button" onClick={() => {
        const first = connections.find((c) => c.kind === 'JENKINS');
        onChange([...sources, { alias: sources.length ? `app${sources.length + 1}` : 'app', type: 'JENKINS', connection: first?.name ?? '', job: '', primary: sources.length === 0 }]);
      }}>Add artifact</button>
    </section>
  );
}

function Source({ index, source, connections, onChange, onPrimary, onRemove }: {
  index: number; source: ArtifactSourceInput; connections: Connection[]; onChange: (s: ArtifactSourceInput) => void; onPrimary: () => void; onRemove: () => void;
}) {
  const p = `artifactSources[${index}]`;
  const up = (patch: Partial<ArtifactSourceInput>) => onChange({ ...source, ...patch });
  const [builds, setBuilds] = useState<DesignerBuildsQuery['sourceBuilds'] | null>(null);
  const [error, setError] = useState<APIError | null>(null);
  const [loading, setLoading] = useState(false);
  const kind = connectionKind[source.type] ?? '';
  const usable = connections.filter((c) => c.kind === kind);
  const list = async () => {
    setError(null);
    setLoading(true);
    try {
      const d = await query(buildsQuery, { source: { alias: source.alias || 'x', type: source.type, connection: source.connection, job: source.job, project: source.project } });
      setBuilds(d.sourceBuilds);
    } catch (e) {
      setBuilds(null);
      setError(e as APIError);
    } finally {
      setLoading(false);
    }
  };
  return (
    <Fieldset legend={`Artifact ${source.alias}`} className="artifact">
      <div className="row">
        <Text path={`${p}.alias`} label="Alias" value={source.alias} onChange={(v) => up({ alias: v })} required />
        <Select path={`${p}.type`} label="CI" value={source.type} onChange={(v) => up({ type: v, connection: connections.find((c) => c.kind === connectionKind[v])?.name ?? '' })}
          options={[['JENKINS', 'Jenkins'], ['TEAMBUILD', 'Azure DevOps / TFS build']]} />
        <Select path={`${p}.connection`} label="Service connection" value={source.connection} onChange={(v) => up({ connection: v })}
          options={[['', usable.length ? 'Choose…' : 'No connection of this kind'], ...usable.map((c) => c.name), ...(source.connection && !usable.some((c) => c.name === source.connection) ? [source.connection] : [])]} />
        <Text path={`${p}.job`} label={source.type === 'TEAMBUILD' ? 'Build definition' : 'Jenkins job'} placeholder={source.type === 'TEAMBUILD' ? 'id or name' : 'folder/job'} value={source.job} onChange={(v) => up({ job: v })} required />
        {source.type === 'TEAMBUILD' && <Text path={`${p}.project`} label="Project" value={source.project} onChange={(v) => up({ project: v })} />}
      </div>
      <div className="row">
        <Check path={`${p}.primary`} label="Primary" value={source.primary} onChange={(v) => (v ? onPrimary() : up({ primary: false }))} />
        <Check path={`${p}.continuousDeployment`} label="Release every admitted build" value={source.continuousDeployment} onChange={(v) => up({ continuousDeployment: v })} />
        <List path={`${p}.branchFilters`} label="Branch filters" hint='e.g. main, release/*, -release/old*' value={source.branchFilters} onChange={(v) => up({ branchFilters: v })} />
        <Check path={`${p}.allowPartial`} label="Admit partially succeeded builds" value={source.allowPartial} onChange={(v) => up({ allowPartial: v })} />
        <Text path={`${p}.repositoryUrl`} label="Repository URL" value={source.repositoryUrl} onChange={(v) => up({ repositoryUrl: v })} />
      </div>
      <div className="buttons">
        <button type="button" onClick={list} disabled={!source.connection || !source.job || loading}>List builds</button>
        <button type="button" className="danger" onClick={onRemove} aria-label={`Remove artifact ${source.alias}`}>Remove artifact</button>
      </div>
      <ErrorNote error={error} />
      {builds && (builds.length === 0 ? <p className="small">The CI server lists no builds of {source.job}.</p> : (
        <div className="scroll-x" role="region" aria-label={`Builds of ${source.job}`} tabIndex={0}>
          <table className="builds" data-builds={source.alias}>
            <caption className="sr-only">Recent builds of {source.job}</caption>
            <thead><tr><th scope="col">Build</th><th scope="col">Branch</th><th scope="col">Result</th><th scope="col">Finished</th></tr></thead>
            <tbody>
              {builds.map((b) => (
                <tr key={b.buildId || b.buildNumber} data-build={b.buildNumber}>
                  <td><ExternalLink url={b.buildUrl}>{b.buildNumber}</ExternalLink></td>
                  <td>{b.branch}</td>
                  <td>{b.result ? <Status status={b.result} /> : <span className="muted">running</span>}</td>
                  <td>{b.finishedAt ? <Ago time={b.finishedAt} /> : '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ))}
    </Fieldset>
  );
}
