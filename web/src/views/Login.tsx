import { useEffect, useState, type FormEvent } from 'react';
import { login, type APIError, type SignedIn } from '../api';

export function Login({ onSignedIn }: { onSignedIn: (s: SignedIn) => void }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  // A failed single sign-on comes back with ?signin_error=…
  const [error, setError] = useState(() => new URL(location.href).searchParams.get('signin_error') ?? '');
  const [busy, setBusy] = useState(false);
  const [sso, setSSO] = useState<{ name: string; login: string } | null>(null);

  useEffect(() => {
    fetch('/auth/providers').then((r) => r.json()).then((p) => setSSO(p.oidc ?? null), () => setSSO(null));
    if (error) history.replaceState(null, '', location.pathname);
  }, []);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError('');
    try {
      onSignedIn(await login(username, password));
    } catch (err) {
      setError((err as APIError).message);
      setBusy(false);
    }
  }

  return (
    <main className="login">
      <form onSubmit={submit} aria-labelledby="login-title">
        <h1 id="login-title">Sign in to Cairn</h1>
        <label htmlFor="username">Username</label>
        <input id="username" name="username" autoComplete="username" required autoFocus
          value={username} onChange={(e) => setUsername(e.target.value)} />
        <label htmlFor="password">Password</label>
        <input id="password" name="password" type="password" autoComplete="current-password" required
          value={password} onChange={(e) => setPassword(e.target.value)} />
        {error && <p role="alert" className="error">{error}</p>}
        <button type="submit" disabled={busy}>{busy ? 'Signing in…' : 'Sign in'}</button>
        {sso && <p><a href={sso.login}>Sign in with {sso.name}</a></p>}
      </form>
    </main>
  );
}
