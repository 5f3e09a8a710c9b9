import { useState, type FormEvent } from 'react';
import { mutate } from '../../api';
import { useLive } from '../../hooks';
import { Link } from '../../router';
import { Ago, ErrorNote, Loading, Page, Status } from '../../ui';
import { graphql } from '../../gql';
import { Confirm, Field, OtherError, ShownOnce, principalsText, useAction } from './common';
import { SaveForm } from './Pools';
import { RegistrationTable } from './Agents';

const groupsQuery = graphql(`query AdminDeploymentGroups {
  deploymentGroups {
    id name description mayUse { kind name }
    targets { id name online enabled tags lastSeenAt lastDeployment { id } }
  }
  agentRegistrations { id createdAt pool deploymentGroup maxUses uses expiresAt createdBy revokedAt }
}`);

const saveGroupMutation = graphql(`mutation AdminSaveDeploymentGroup($input: DeploymentGroupInput!) { saveDeploymentGroup(input: $input) { id name } }`);
const deleteGroupMutation = graphql(`mutation AdminDeleteDeploymentGroup($name: String!) { deleteDeploymentGroup(name: $name) }`);
const setTagsMutation = graphql(`mutation AdminSetTargetTags($id: ID!, $tags: [String!]!) { setTargetTags(agentId: $id, tags: $tags) { id tags } }`);
const createTargetRegistrationMutation = graphql(`mutation AdminCreateTargetRegistration($group: String!, $maxUses: Int, $hours: Int) {
  createTargetRegistration(deploymentGroup: $group, maxUses: $maxUses, expiresInHours: $hours) { token registration { id deploymentGroup } }
}`);
const revokeRegistrationMutation = graphql(`mutation AdminRevokeTargetRegistration($id: ID!) { revokeAgentRegistration(id: $id) { id revokedAt } }`);

type Group = NonNullable<import('../../gql/graphql').AdminDeploymentGroupsQuery['deploymentGroups']>[number];

// AdminDeploymentGroups: the deployment groups with their targets (tags, online state),
// created, edited and deleted here; registration tokens for new targets.
export function AdminDeploymentGroups() {
  const q = useLive(groupsQuery, {}, (ev) => ev.__typename === 'AgentStatusEvent');
  const save = (input: { name: string; description: string; mayUse: { kind: 'USER' | 'GROUP'; name: string }[] }) => mutate(saveGroupMutation, { input });
  const groups = q.data?.deploymentGroups ?? [];
  return (
    <Page title="Deployment groups">
      <p className="small">A deployment group is a set of machines (targets) a phase deploys to one by one or in parallel, chosen by tags.</p>
      <ErrorNote error={q.error} />
      {q.loading && !q.data ? <Loading what="deployment groups" /> : groups.length === 0 ? <p>No deployment groups.</p> : (
        groups.map((g) => <GroupCard key={g.id} group={g} registrations={(q.data?.agentRegistrations ?? []).filter((r) => r.deploymentGroup === g.name)} save={save} reload={q.reload} />)
      )}
      <h2>New deployment group</h2>
      <SaveForm id="new-group" what="deployment group" save={save} onSaved={q.reload} />
    </Page>
  );
}

function GroupCard({ group: g, registrations, save, reload }: { group: Group; registrations: Parameters<typeof RegistrationTable>[0]['list']; save: Parameters<typeof SaveForm>[0]['save']; reload: () => void }) {
  const [editing, setEditing] = useState(false);
  const del = useAction();
  const revoke = useAction();
  const targets = g.targets ?? [];
  return (
    <section className="card admin-card" aria-labelledby={`group-${g.id}`} data-group={g.name}>
      <header>
        <h2 id={`group-${g.id}`}>{g.name}</h2>
        <div className="buttons">
          {!editing && <button type="button" onClick={() => setEditing(true)} aria-label={`Edit ${g.name}`}>Edit</button>}
          <Confirm label="Delete" name={g.name} question={targets.length ? `${g.name} has targets: delete them first.` : `Delete ${g.name}?`}
            onConfirm={async () => { if (await del.run(() => mutate(deleteGroupMutation, { name: g.name }))) reload(); }} />
        </div>
      </header>
      {del.error && <p className="error small" role="alert">{del.error.message}</p>}
      {editing ? (
        <SaveForm id={`group-${g.id}`} what="deployment group" initial={g} save={save} onSaved={() => { setEditing(false); reload(); }} onCancel={() => setEditing(false)} />
      ) : (
        <dl className="facts">
          <dt>Description</dt><dd>{g.description || '—'}</dd>
          <dt>May use</dt><dd>{principalsText(g.mayUse) || 'every editor'}</dd>
        </dl>
      )}
      <h3>Targets</h3>
      {targets.length === 0 ? <p className="muted">No targets: register one with a token below.</p> : (
        <div className="scroll-x" role="region" aria-label={`Targets of ${g.name}`} tabIndex={0}>
          <table data-testid={`targets-${g.name}`}>
            <thead><tr><th scope="col">Target</th><th scope="col">State</th><th scope="col">Last seen</th><th scope="col">Last deployment</th><th scope="col">Tags</th></tr></thead>
            <tbody>
              {targets.map((t) => (
                <tr key={t.id} data-target={t.name}>
                  <th scope="row">{t.name}</th>
                  <td><Status status={!t.enabled ? 'DISABLED' : t.online ? 'ONLINE' : 'OFFLINE'} /></td>
                  <td><Ago time={t.lastSeenAt} /></td>
                  <td>{t.lastDeployment ? <Link href={`/deployments/${t.lastDeployment.id}`}>#{t.lastDeployment.id}</Link> : '—'}</td>
                  <td><TagsForm id={t.id} name={t.name} tags={t.tags ?? []} reload={reload} /></td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <TargetRegistration group={g.name} reload={reload} />
      {revoke.error && <p className="error small" role="alert">{revoke.error.message}</p>}
      <RegistrationTable list={registrations} what="group" revoke={(id) => revoke.run(() => mutate(revokeRegistrationMutation, { id })).then(reload)} />
    </section>
  );
}

// TagsForm replaces a target's tags (comma-separated).
function TagsForm({ id, name, tags, reload }: { id: string; name: string; tags: string[]; reload: () => void }) {
  const [text, setText] = useState(tags.join(', '));
  const act = useAction();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const list = text.split(',').map((s) => s.trim()).filter(Boolean);
    if (await act.run(() => mutate(setTagsMutation, { id, tags: list }))) reload();
  };
  return (
    <form className="inline" onSubmit={submit} aria-label={`Tags of ${name}`}>
      <Field id={`tags-${id}`} label="Tags" field="tags" error={act.error} value={text} onChange={(e) => setText(e.target.value)} size={16} />
      <button type="submit" disabled={act.busy} aria-label={`Save tags of ${name}`}>Save</button>
      <OtherError error={act.error} fields={['tags']} />
    </form>
  );
}

// TargetRegistration creates a token with which agents join the group as targets (shown once).
function TargetRegistration({ group, reload }: { group: string; reload: () => void }) {
  const [uses, setUses] = useState('1');
  const [hours, setHours] = useState('24');
  const [token, setToken] = useState<string>();
  const act = useAction();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    await act.run(async () => {
      const d = await mutate(createTargetRegistrationMutation, { group, maxUses: Number(uses), hours: Number(hours) });
      setToken(d.createTargetRegistration.token);
      reload();
    });
  };
  const id = `treg-${group.replace(/[^a-z0-9_-]/gi, '_')}`;
  return (
    <>
      <h3>Register targets</h3>
      <form className="inline" onSubmit={submit} aria-label={`New registration token for ${group}`} data-form={`target-registration-${group}`}>
        <Field id={`${id}-uses`} label="Targets" field="maxUses" error={act.error} type="number" inputMode="numeric" value={uses} onChange={(e) => setUses(e.target.value)} size={5} />
        <Field id={`${id}-hours`} label="Valid for (hours)" field="expiresIn" error={act.error} type="number" inputMode="numeric" value={hours} onChange={(e) => setHours(e.target.value)} size={5} />
        <button type="submit" disabled={act.busy}>Create registration token</button>
        <OtherError error={act.error} fields={['maxUses', 'expiresIn']} />
      </form>
      {token && <ShownOnce what={<>Registration token for targets of <strong>{group}</strong> (<code>agent --token TOKEN --tags web,eu</code>).</>} secret={token} onDismiss={() => setToken(undefined)} />}
    </>
  );
}
