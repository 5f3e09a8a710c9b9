import { useState, type FormEvent } from 'react';
import { mutate } from '../../api';
import { useLive } from '../../hooks';
import { useParams, withParams } from '../../listing';
import { navigate } from '../../router';
import { Ago, ErrorNote, Loading, Page, edges } from '../../ui';
import { graphql } from '../../gql';
import { Confirm, Field, OtherError, SelectField, ShownOnce, useAction } from './common';

const myTokensQuery = graphql(`query AdminMyTokens {
  viewer { user { id username } }
  myApiTokens { id name createdAt expiresAt revokedAt lastUsedAt scopes }
  users(first: 500, orderBy: {field: USERNAME, direction: ASC}) { edges { node { id username disabled } } }
}`);

const userTokensQuery = graphql(`query AdminUserTokens($id: ID!) {
  userApiTokens(userId: $id) { id name createdAt expiresAt revokedAt lastUsedAt scopes }
}`);

const createTokenMutation = graphql(`mutation AdminCreateApiToken($input: NewApiTokenInput!) { createApiToken(input: $input) { token apiToken { id name owner { username } } } }`);
const revokeTokenMutation = graphql(`mutation AdminRevokeApiToken($id: ID!) { revokeApiToken(id: $id) { id revokedAt } }`);

type Token = { id: string; name: string; createdAt: string; expiresAt: string; revokedAt?: string | null; lastUsedAt?: string | null; scopes?: string[] | null };

// AdminTokens: your API tokens, and (for those who may read them) another user's, chosen in the
// URL (?user=ID): create with scopes and expiry (the token shown once), revoke.
export function AdminTokens() {
  const p = useParams();
  const q = useLive(myTokensQuery, {}, () => false);
  const me = q.data?.viewer.user;
  const users = edges(q.data?.users).filter((u) => u.id !== me?.id);
  const other = p.get('user') ?? '';
  return (
    <Page title="API tokens">
      <ErrorNote error={q.error} />
      {q.loading && !q.data ? <Loading what="API tokens" /> : (
        <>
          <section aria-labelledby="own-tokens">
            <h2 id="own-tokens">Your tokens</h2>
            <TokenList id="own" tokens={q.data?.myApiTokens ?? []} reload={q.reload} />
            <TokenForm id="own" reload={q.reload} />
          </section>
          <section aria-labelledby="user-tokens">
            <h2 id="user-tokens">Another user's tokens</h2>
            <SelectField id="tokens-user" label="User" field="user" value={other}
              onChange={(v) => navigate(withParams(p, { user: v || undefined }))}
              options={[{ value: '', label: 'Choose a user' }, ...users.map((u) => ({ value: u.id, label: u.username + (u.disabled ? ' (disabled)' : '') }))]} />
            {other && <UserTokens key={other} userId={other} username={users.find((u) => u.id === other)?.username ?? other} />}
          </section>
        </>
      )}
    </Page>
  );
}

function UserTokens({ userId, username }: { userId: string; username: string }) {
  const q = useLive(userTokensQuery, { id: userId }, () => false);
  if (q.loading && !q.data) return <Loading what={`${username}'s tokens`} />;
  return (
    <>
      <ErrorNote error={q.error} />
      <TokenList id={`user-${userId}`} tokens={q.data?.userApiTokens ?? []} reload={q.reload} owner={username} />
      <TokenForm id={`user-${userId}`} ownerId={userId} owner={username} reload={q.reload} />
    </>
  );
}

function tokenState(t: Token, now: number): string {
  if (t.revokedAt) return 'Revoked';
  return new Date(t.expiresAt).getTime() <= now ? 'Expired' : 'Active';
}

function TokenList({ id, tokens, reload, owner }: { id: string; tokens: Token[]; reload: () => void; owner?: string }) {
  const act = useAction();
  const now = Date.now();
  if (tokens.length === 0) return <p className="muted">No API tokens.</p>;
  return (
    <>
      <div className="scroll-x" role="region" aria-label={owner ? `${owner}'s API tokens` : 'Your API tokens'} tabIndex={0}>
        <table data-testid={`tokens-${id}`}>
          <thead><tr><th scope="col">Name</th><th scope="col">Scopes</th><th scope="col">Created</th><th scope="col">Expires</th><th scope="col">Last used</th><th scope="col">State</th></tr></thead>
          <tbody>
            {tokens.map((t) => {
              const state = tokenState(t, now);
              return (
                <tr key={t.id} data-token={t.name} data-state={state}>
                  <th scope="row">{t.name}</th>
                  <td>{(t.scopes ?? []).join(', ') || <span className="muted">—</span>}</td>
                  <td><Ago time={t.createdAt} /></td>
                  <td><time dateTime={t.expiresAt}>{new Date(t.expiresAt).toLocaleDateString()}</time></td>
                  <td>{t.lastUsedAt ? <Ago time={t.lastUsedAt} /> : 'never'}</td>
                  <td>
                    {state}{' '}
                    {state === 'Active' && <Confirm label="Revoke" name={t.name} question="Whatever uses it stops working at once."
                      onConfirm={async () => { if (await act.run(() => mutate(revokeTokenMutation, { id: t.id }))) reload(); }} />}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      {act.error && <p className="error" role="alert">{act.error.message}</p>}
    </>
  );
}

// TokenForm creates a token (for ownerId, else for the viewer) with a lifetime and scopes.
function TokenForm({ id, ownerId, owner, reload }: { id: string; ownerId?: string; owner?: string; reload: () => void }) {
  const [name, setName] = useState('');
  const [days, setDays] = useState('90');
  const [scopes, setScopes] = useState('');
  const [created, setCreated] = useState<{ name: string; token: string }>();
  const act = useAction();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const ok = await act.run(async () => {
      const list = scopes.split(',').map((s) => s.trim()).filter(Boolean);
      const d = await mutate(createTokenMutation, { input: { name, expiresInDays: Number(days), scopes: list, ownerId } });
      setCreated({ name: d.createApiToken.apiToken.name, token: d.createApiToken.token });
    });
    if (ok) {
      setName('');
      setScopes('');
      reload();
    }
  };
  return (
    <>
      <form className="stack" onSubmit={submit} aria-label={owner ? `New API token for ${owner}` : 'New API token'} data-form={`token-${id}`}>
        <Field id={`${id}-token-name`} label="Name" field="name" error={act.error} value={name} onChange={(e) => setName(e.target.value)} required placeholder="ci deploy bot" />
        <Field id={`${id}-token-days`} label="Expires in (days, 1 to 365)" field="expiresIn" error={act.error} type="number" inputMode="numeric" value={days} onChange={(e) => setDays(e.target.value)} />
        <Field id={`${id}-token-scopes`} label="Scopes" field="scopes" error={act.error} value={scopes} onChange={(e) => setScopes(e.target.value)}
          hint="Extra powers, separated by commas: act-as lets a chat bot act for the users it names." />
        <OtherError error={act.error} fields={['name', 'expiresIn', 'scopes']} />
        <div><button type="submit" className="primary" disabled={act.busy}>{owner ? `Create token for ${owner}` : 'Create token'}</button></div>
      </form>
      {created && <ShownOnce what={<>API token <strong>{created.name}</strong>{owner && <> for {owner}</>}.</>} secret={created.token} onDismiss={() => setCreated(undefined)} />}
    </>
  );
}
