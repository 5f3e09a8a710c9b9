import { useState, type FormEvent } from 'react';
import { mutate, APIError } from '../api';
import { useLive } from '../hooks';
import { useMayCall } from '../may';
import { Ago, ErrorNote, Loading, Page } from '../ui';
import { graphql } from '../gql';

const profileQuery = graphql(`query Profile {
  viewer { role user { id username displayName email hasPassword groups { name } } }
  myApiTokens { id name createdAt expiresAt revokedAt lastUsedAt scopes }
}`);

const changePasswordMutation = graphql(`mutation ChangeOwnPassword($current: String!, $next: String!) { changePassword(currentPassword: $current, newPassword: $next) }`);
const createTokenMutation = graphql(`mutation CreateOwnApiToken($input: NewApiTokenInput!) { createApiToken(input: $input) { token apiToken { id name } } }`);
const revokeTokenMutation = graphql(`mutation RevokeOwnApiToken($id: ID!) { revokeApiToken(id: $id) { id revokedAt } }`);

// FieldError shows a server error beside the input it names (INVALID_INPUT's field).
function FieldError({ id, error, field }: { id: string; error?: APIError; field: string }) {
  if (!error || error.field !== field) return null;
  return <span className="error small" role="alert" id={id}>{error.message}</span>;
}

// Profile: who you are, your password and your API tokens.
export function Profile() {
  const q = useLive(profileQuery, {}, () => false);
  const may = useMayCall('Mutation.changePassword', 'Mutation.createApiToken', 'Mutation.revokeApiToken');
  const me = q.data?.viewer;
  return (
    <Page title="Your profile">
      <ErrorNote error={q.error} />
      {!me ? (q.loading ? <Loading what="your profile" /> : null) : (
        <>
          <dl className="facts">
            <dt>Username</dt><dd>{me.user.username}</dd>
            <dt>Name</dt><dd>{me.user.displayName || '—'}</dd>
            <dt>Email</dt><dd>{me.user.email || '—'}</dd>
            <dt>Role</dt><dd>{me.role.charAt(0) + me.role.slice(1).toLowerCase()}</dd>
            <dt>Groups</dt><dd>{(me.user.groups ?? []).map((g) => g.name).join(', ') || '—'}</dd>
          </dl>
          {may?.has('Mutation.changePassword') && me.user.hasPassword && <PasswordForm />}
          <h2>API tokens</h2>
          <Tokens tokens={q.data?.myApiTokens ?? []} reload={q.reload} mayCreate={!!may?.has('Mutation.createApiToken')} mayRevoke={!!may?.has('Mutation.revokeApiToken')} />
        </>
      )}
    </Page>
  );
}

function PasswordForm() {
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [confirm, setConfirm] = useState('');
  const [error, setError] = useState<APIError>();
  const [done, setDone] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setDone(false);
    if (next !== confirm) {
      setError(new APIError('the two new passwords differ', 'INVALID_INPUT', 0, 'confirmPassword'));
      return;
    }
    try {
      await mutate(changePasswordMutation, { current, next });
      setError(undefined);
      setDone(true);
      setCurrent('');
      setNext('');
      setConfirm('');
    } catch (err) {
      setError(err as APIError);
    }
  };
  const input = (id: string, label: string, value: string, set: (v: string) => void, field: string, auto: string) => (
    <label htmlFor={id}>
      <span>{label}</span>
      <input id={id} type="password" autoComplete={auto} value={value} onChange={(e) => set(e.target.value)} required
        aria-invalid={error?.field === field || undefined} aria-describedby={error?.field === field ? `${id}-error` : undefined} />
      <FieldError id={`${id}-error`} error={error} field={field} />
    </label>
  );
  return (
    <form className="stack" onSubmit={submit} aria-labelledby="password-title" data-form="password">
      <h2 id="password-title">Password</h2>
      {input('pw-current', 'Current password', current, setCurrent, 'currentPassword', 'current-password')}
      {input('pw-new', 'New password (at least 12 characters)', next, setNext, 'newPassword', 'new-password')}
      {input('pw-confirm', 'New password again', confirm, setConfirm, 'confirmPassword', 'new-password')}
      {error && !['currentPassword', 'newPassword', 'confirmPassword'].includes(error.field ?? '') && <ErrorNote error={error} />}
      {done && <p role="status">Password changed; your other sessions were ended.</p>}
      <div><button type="submit">Change password</button></div>
    </form>
  );
}

type Token = { id: string; name: string; createdAt: string; expiresAt: string; revokedAt: string | null; lastUsedAt: string | null; scopes: string[] | null };

function Tokens({ tokens, reload, mayCreate, mayRevoke }: { tokens: Token[]; reload: () => void; mayCreate: boolean; mayRevoke: boolean }) {
  const [name, setName] = useState('');
  const [days, setDays] = useState('90');
  const [error, setError] = useState<APIError>();
  const [created, setCreated] = useState<{ name: string; token: string }>();
  const create = async (e: FormEvent) => {
    e.preventDefault();
    try {
      const d = await mutate(createTokenMutation, { input: { name, expiresInDays: Number(days) } });
      setCreated({ name: d.createApiToken.apiToken.name, token: d.createApiToken.token });
      setError(undefined);
      setName('');
      reload();
    } catch (err) {
      setError(err as APIError);
    }
  };
  const revoke = async (id: string) => {
    try {
      await mutate(revokeTokenMutation, { id });
      reload();
    } catch (err) {
      setError(err as APIError);
    }
  };
  const now = Date.now();
  return (
    <>
      {tokens.length === 0 ? <p className="muted">No API tokens.</p> : (
        <div className="scroll-x" role="region" aria-label="API tokens" tabIndex={0}>
          <table data-testid="tokens">
            <thead><tr><th scope="col">Name</th><th scope="col">Created</th><th scope="col">Expires</th><th scope="col">Last used</th><th scope="col">State</th></tr></thead>
            <tbody>
              {tokens.map((t) => {
                const state = t.revokedAt ? 'Revoked' : new Date(t.expiresAt).getTime() < now ? 'Expired' : 'Active';
                return (
                  <tr key={t.id} data-token={t.name}>
                    <th scope="row">{t.name}{(t.scopes ?? []).length > 0 && <span className="small"> ({(t.scopes ?? []).join(', ')})</span>}</th>
                    <td><Ago time={t.createdAt} /></td>
                    <td><time dateTime={t.expiresAt}>{new Date(t.expiresAt).toLocaleDateString()}</time></td>
                    <td>{t.lastUsedAt ? <Ago time={t.lastUsedAt} /> : 'never'}</td>
                    <td>{state}{state === 'Active' && mayRevoke && <>{' '}<button type="button" onClick={() => revoke(t.id)} aria-label={`Revoke ${t.name}`}>Revoke</button></>}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      {mayCreate && (
        <form className="inline" onSubmit={create} aria-label="New API token" data-form="token">
          <label htmlFor="token-name">Name</label>
          <input id="token-name" value={name} onChange={(e) => setName(e.target.value)} required
            aria-invalid={error?.field === 'name' || undefined} aria-describedby={error?.field === 'name' ? 'token-name-error' : undefined} />
          <FieldError id="token-name-error" error={error} field="name" />
          <label htmlFor="token-days">Days</label>
          <input id="token-days" type="number" inputMode="numeric" value={days} onChange={(e) => setDays(e.target.value)}
            aria-invalid={error?.field === 'expiresIn' || undefined} aria-describedby={error?.field === 'expiresIn' ? 'token-days-error' : undefined} />
          <FieldError id="token-days-error" error={error} field="expiresIn" />
          <button type="submit">Create token</button>
        </form>
      )}
      {error && !['name', 'expiresIn'].includes(error.field ?? '') && <ErrorNote error={error} />}
      {created && (
        <p role="status" data-created-token>
          Token <strong>{created.name}</strong> (shown once, copy it now): <code className="token">{created.token}</code>
        </p>
      )}
    </>
  );
}
