import { useEffect, useState, type FormEvent } from 'react';
import { mutate } from '../../api';
import { useLive } from '../../hooks';
import { followIdentity } from '../../events';
import { Filters, Pager, pageVars, useParams, type FilterField } from '../../listing';
import { Ago, ErrorNote, Loading, Page, edges, human } from '../../ui';
import { graphql } from '../../gql';
import type { AdminUsersQuery, UserRole, UserWhereInput } from '../../gql/graphql';
import { Confirm, Field, OtherError, SelectField, useAction } from './common';

const usersQuery = graphql(`query AdminUsers($first: Int, $after: Cursor, $last: Int, $before: Cursor, $where: UserWhereInput) {
  users(first: $first, after: $after, last: $last, before: $before, where: $where, orderBy: {field: USERNAME, direction: ASC}) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { node { id username displayName email role disabled hasPassword createdAt groups { id name } } }
  }
}`);

const createUserMutation = graphql(`mutation AdminCreateUser($input: NewUserInput!) { createUser(input: $input) { id username } }`);
const updateUserMutation = graphql(`mutation AdminUpdateUser($id: ID!, $input: UserPatchInput!) { updateUser(id: $id, input: $input) { id role disabled } }`);
const disableUserMutation = graphql(`mutation AdminDisableUser($id: ID!) { disableUser(id: $id) { id disabled } }`);
const setPasswordMutation = graphql(`mutation AdminSetUserPassword($id: ID!, $password: String!) { setUserPassword(id: $id, password: $password) { id hasPassword } }`);

// The roles, from the schema's enum: a role the schema lacks is a compile error here.
const roles: UserRole[] = ['VIEWER', 'EDITOR', 'ADMIN'];
const roleOptions = roles.map((r) => ({ value: r, label: human(r) }));

type User = NonNullable<NonNullable<NonNullable<AdminUsersQuery['users']['edges']>[number]>['node']>;

// AdminUsers: users with paging and filters; create, change role, set a password, disable and
// enable.
export function AdminUsers() {
  const p = useParams();
  const where: UserWhereInput = {};
  if (p.get('name')) where.or = [{ usernameContainsFold: p.get('name')! }, { displayNameContainsFold: p.get('name')! }];
  const role = p.get('role') as UserRole | null;
  if (role && roles.includes(role)) where.role = role;
  if (p.get('state') === 'active') where.disabled = false;
  if (p.get('state') === 'disabled') where.disabled = true;
  // Another admin's change (or a sign-in) shows at once.
  useEffect(followIdentity, []);
  const q = useLive(usersQuery, { ...pageVars(p), where }, (ev) => ev.__typename === 'IdentityChangedEvent');
  const users = edges(q.data?.users);
  const fields: FilterField[] = [
    { name: 'name', label: 'Name', placeholder: 'part of a name' },
    { name: 'role', label: 'Role', kind: 'select', options: roleOptions },
    { name: 'state', label: 'State', kind: 'select', options: [{ value: 'active', label: 'Active' }, { value: 'disabled', label: 'Disabled' }] },
  ];
  return (
    <Page title="Users">
      <Filters id="users" fields={fields} />
      <ErrorNote error={q.error} />
      {q.loading && !q.data ? <Loading what="users" /> : (
        <>
          {users.length === 0 ? <p>No users match.</p> : (
            <div className="scroll-x" role="region" aria-label="Users" tabIndex={0}>
              <table data-testid="users">
                <thead><tr><th scope="col">User</th><th scope="col">Role</th><th scope="col">Groups</th><th scope="col">Created</th><th scope="col">State</th><th scope="col">Password</th></tr></thead>
                <tbody>{users.map((u) => <UserRow key={u.id} user={u} reload={q.reload} />)}</tbody>
              </table>
            </div>
          )}
          <Pager info={q.data?.users.pageInfo} total={q.data?.users.totalCount} shown={users.length} label="Users" byName />
        </>
      )}
      <h2>New user</h2>
      <NewUser onCreated={q.reload} />
    </Page>
  );
}

function UserRow({ user: u, reload }: { user: User; reload: () => void }) {
  const [role, setRole] = useState<string>(u.role);
  const act = useAction();
  const changeRole = async (e: FormEvent) => {
    e.preventDefault();
    if (await act.run(() => mutate(updateUserMutation, { id: u.id, input: { role: role as UserRole } }))) reload();
  };
  return (
    <tr data-user={u.username} data-disabled={u.disabled || undefined}>
      <th scope="row">{u.username}{u.displayName && <div className="small">{u.displayName}</div>}{u.email && <div className="small">{u.email}</div>}</th>
      <td>
        <form className="inline" onSubmit={changeRole} aria-label={`Role of ${u.username}`}>
          <SelectField id={`role-${u.id}`} label={`Role of ${u.username}`} hideLabel field="role" error={act.error} value={role} onChange={setRole} options={roleOptions} />
          {role !== u.role && <button type="submit" disabled={act.busy} aria-label={`Change the role of ${u.username}`}>Change</button>}
        </form>
      </td>
      <td>{(u.groups ?? []).map((g) => g.name).join(', ') || <span className="muted">—</span>}</td>
      <td><Ago time={u.createdAt} /></td>
      <td>
        {u.disabled ? 'Disabled' : 'Active'}{' '}
        {u.disabled
          ? <button type="button" onClick={async () => { if (await act.run(() => mutate(updateUserMutation, { id: u.id, input: { disabled: false } }))) reload(); }} aria-label={`Enable ${u.username}`}>Enable</button>
          : <Confirm label="Disable" name={u.username} question={`Disable ${u.username}? Their sessions and tokens stop working at once.`}
              onConfirm={async () => { if (await act.run(() => mutate(disableUserMutation, { id: u.id }))) reload(); }} />}
        <OtherError error={act.error} fields={['role', 'password']} />
      </td>
      <td><PasswordForm user={u} reload={reload} /></td>
    </tr>
  );
}

// PasswordForm sets a user's dashboard password (the first one, or a reset).
function PasswordForm({ user: u, reload }: { user: User; reload: () => void }) {
  const [open, setOpen] = useState(false);
  const [password, setPassword] = useState('');
  const [done, setDone] = useState(false);
  const act = useAction();
  if (!open) {
    return <>{u.hasPassword ? 'Set' : <span className="muted">None</span>}{done && <span role="status" className="small"> (changed)</span>}{' '}
      <button type="button" onClick={() => { setOpen(true); setDone(false); }} aria-label={`${u.hasPassword ? 'Reset' : 'Set'} the password of ${u.username}`}>{u.hasPassword ? 'Reset' : 'Set'}</button></>;
  }
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (await act.run(() => mutate(setPasswordMutation, { id: u.id, password }))) {
      setOpen(false);
      setPassword('');
      setDone(true);
      reload();
    }
  };
  return (
    <form className="inline" onSubmit={submit} aria-label={`Password of ${u.username}`}>
      <Field id={`pw-${u.id}`} label="New password (12 characters or more)" field="password" error={act.error} type="password" autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} required />
      <button type="submit" disabled={act.busy}>Save</button>
      <button type="button" onClick={() => setOpen(false)}>Cancel</button>
      <OtherError error={act.error} fields={['password']} />
    </form>
  );
}

function NewUser({ onCreated }: { onCreated: () => void }) {
  const [username, setUsername] = useState('');
  const [displayName, setDisplayName] = useState('');
  const [email, setEmail] = useState('');
  const [role, setRole] = useState<string>('VIEWER');
  const [created, setCreated] = useState<string>();
  const act = useAction();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const ok = await act.run(async () => {
      const d = await mutate(createUserMutation, { input: { username, displayName: displayName || undefined, email: email || undefined, role: role as UserRole } });
      setCreated(d.createUser.username);
    });
    if (ok) {
      setUsername('');
      setDisplayName('');
      setEmail('');
      onCreated();
    }
  };
  return (
    <form className="stack" onSubmit={submit} aria-label="New user" data-form="new-user">
      <Field id="user-username" label="Username" field="username" error={act.error} value={username} onChange={(e) => setUsername(e.target.value)} required autoComplete="off"
        hint="Lowercase letters, digits, '.', '_' or '-'." />
      <Field id="user-display" label="Display name" field="displayName" error={act.error} value={displayName} onChange={(e) => setDisplayName(e.target.value)} />
      <Field id="user-email" label="Email" field="email" error={act.error} type="email" value={email} onChange={(e) => setEmail(e.target.value)} />
      <SelectField id="user-role" label="Role" field="role" error={act.error} value={role} onChange={setRole} options={roleOptions} />
      <OtherError error={act.error} fields={['username', 'displayName', 'email', 'role']} />
      {created && <p role="status">User {created} created: set a password in the list for them to sign in.</p>}
      <div><button type="submit" className="primary" disabled={act.busy}>Create user</button></div>
    </form>
  );
}
