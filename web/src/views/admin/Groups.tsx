import { useEffect, useState, type FormEvent } from 'react';
import { mutate } from '../../api';
import { useLive } from '../../hooks';
import { followIdentity } from '../../events';
import { Filters, Pager, pageVars, useParams } from '../../listing';
import { ErrorNote, Loading, Page, edges } from '../../ui';
import { graphql } from '../../gql';
import type { AdminGroupsQuery, GroupWhereInput } from '../../gql/graphql';
import { Confirm, Field, OtherError, SelectField, useAction } from './common';

const groupsQuery = graphql(`query AdminGroups($first: Int, $after: Cursor, $last: Int, $before: Cursor, $where: GroupWhereInput) {
  groups(first: $first, after: $after, last: $last, before: $before, where: $where, orderBy: {field: NAME, direction: ASC}) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { node { id name description members { id username displayName disabled } } }
  }
  users(first: 500, orderBy: {field: USERNAME, direction: ASC}, where: {disabled: false}) { edges { node { id username } } }
}`);

const createGroupMutation = graphql(`mutation AdminCreateGroup($input: NewGroupInput!) { createGroup(input: $input) { id name } }`);
const updateGroupMutation = graphql(`mutation AdminUpdateGroup($id: ID!, $input: GroupPatchInput!) { updateGroup(id: $id, input: $input) { id name description } }`);
const deleteGroupMutation = graphql(`mutation AdminDeleteGroup($id: ID!) { deleteGroup(id: $id) }`);
const addMemberMutation = graphql(`mutation AdminAddGroupMember($group: ID!, $user: ID!) { addGroupMember(groupId: $group, userId: $user) { id members { id } } }`);
const removeMemberMutation = graphql(`mutation AdminRemoveGroupMember($group: ID!, $user: ID!) { removeGroupMember(groupId: $group, userId: $user) { id members { id } } }`);

type Group = NonNullable<NonNullable<NonNullable<AdminGroupsQuery['groups']['edges']>[number]>['node']>;

// AdminGroups: groups (approvers, permissions and pools name them) with their members.
export function AdminGroups() {
  const p = useParams();
  const where: GroupWhereInput = {};
  if (p.get('name')) where.nameContainsFold = p.get('name')!;
  // Another admin's change (or a sign-in) shows at once.
  useEffect(followIdentity, []);
  const q = useLive(groupsQuery, { ...pageVars(p), where }, (ev) => ev.__typename === 'IdentityChangedEvent');
  const groups = edges(q.data?.groups);
  const users = edges(q.data?.users);
  return (
    <Page title="Groups">
      <Filters id="groups" fields={[{ name: 'name', label: 'Name', placeholder: 'part of a name' }]} />
      <ErrorNote error={q.error} />
      {q.loading && !q.data ? <Loading what="groups" /> : (
        <>
          {groups.length === 0 ? <p>No groups match.</p> : groups.map((g) => <GroupCard key={g.id} group={g} users={users} reload={q.reload} />)}
          <Pager info={q.data?.groups.pageInfo} total={q.data?.groups.totalCount} shown={groups.length} label="Groups" byName />
        </>
      )}
      <h2>New group</h2>
      <GroupForm onSaved={q.reload} />
    </Page>
  );
}

function GroupForm({ group, onSaved, onCancel }: { group?: Group; onSaved: () => void; onCancel?: () => void }) {
  const [name, setName] = useState(group?.name ?? '');
  const [description, setDescription] = useState(group?.description ?? '');
  const act = useAction();
  const id = group ? `group-${group.id}` : 'new-group';
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const ok = await act.run(() => group
      ? mutate(updateGroupMutation, { id: group.id, input: { name, description } })
      : mutate(createGroupMutation, { input: { name, description: description || undefined } }));
    if (ok) {
      if (!group) {
        setName('');
        setDescription('');
      }
      onSaved();
    }
  };
  return (
    <form className="stack" onSubmit={submit} aria-label={group ? `Edit ${group.name}` : 'New group'} data-form={id}>
      <Field id={`${id}-name`} label="Name" field="name" error={act.error} value={name} onChange={(e) => setName(e.target.value)} required
        hint="Lowercase letters, digits, '.', '_' or '-'." />
      <Field id={`${id}-description`} label="Description" field="description" error={act.error} value={description} onChange={(e) => setDescription(e.target.value)} />
      <OtherError error={act.error} fields={['name', 'description']} />
      <div className="buttons">
        <button type="submit" className="primary" disabled={act.busy}>{group ? 'Save' : 'Create group'}</button>
        {onCancel && <button type="button" onClick={onCancel}>Cancel</button>}
      </div>
    </form>
  );
}

function GroupCard({ group: g, users, reload }: { group: Group; users: { id: string; username: string }[]; reload: () => void }) {
  const [editing, setEditing] = useState(false);
  const [add, setAdd] = useState('');
  const act = useAction();
  const members = g.members ?? [];
  const others = users.filter((u) => !members.some((m) => m.id === u.id));
  const addMember = async (e: FormEvent) => {
    e.preventDefault();
    if (add && (await act.run(() => mutate(addMemberMutation, { group: g.id, user: add })))) {
      setAdd('');
      reload();
    }
  };
  return (
    <section className="card admin-card" aria-labelledby={`group-${g.id}-title`} data-group={g.name}>
      <header>
        <h2 id={`group-${g.id}-title`}>{g.name}</h2>
        <div className="buttons">
          {!editing && <button type="button" onClick={() => setEditing(true)} aria-label={`Edit ${g.name}`}>Edit</button>}
          <Confirm label="Delete" name={g.name} question={`Delete ${g.name}? Approvals and permissions that name it no longer match its members.`}
            onConfirm={async () => { if (await act.run(() => mutate(deleteGroupMutation, { id: g.id }))) reload(); }} />
        </div>
      </header>
      {editing ? <GroupForm group={g} onSaved={() => { setEditing(false); reload(); }} onCancel={() => setEditing(false)} />
        : g.description && <p>{g.description}</p>}
      <h3>Members</h3>
      {members.length === 0 ? <p className="muted">No members.</p> : (
        <ul className="plain members">
          {members.map((m) => (
            <li key={m.id} data-member={m.username}>
              {m.username}{m.displayName && <span className="small"> ({m.displayName})</span>}{m.disabled && <span className="small"> · disabled</span>}{' '}
              <Confirm label="Remove" name={`${m.username} from ${g.name}`} question={`Remove ${m.username} from ${g.name}?`}
                onConfirm={async () => { if (await act.run(() => mutate(removeMemberMutation, { group: g.id, user: m.id }))) reload(); }} />
            </li>
          ))}
        </ul>
      )}
      {others.length > 0 && (
        <form className="inline" onSubmit={addMember} aria-label={`Add a member to ${g.name}`}>
          <SelectField id={`add-${g.id}`} label="Add member" field="userId" error={act.error} value={add} onChange={setAdd}
            options={[{ value: '', label: 'Choose a user' }, ...others.map((u) => ({ value: u.id, label: u.username }))]} />
          <button type="submit" disabled={act.busy || !add}>Add</button>
        </form>
      )}
      <OtherError error={act.error} fields={['userId']} />
    </section>
  );
}
