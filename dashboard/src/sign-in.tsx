import { useState } from 'preact/hooks';
import { ApiError, call } from './api.ts';

type Session = { teamId: string; csrfToken: string; expiresAt: string };

/** The API key is sent once, exchanged for the HttpOnly session cookie, and dropped from the page. */
export function SignIn(props: { notice: string; onSignedIn: (session: Session) => void }) {
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const input = form.elements.namedItem('apiKey') as HTMLInputElement;
    setBusy(true);
    setError('');
    try {
      await call('POST', '/dashboard/session', { apiKey: input.value });
      input.value = '';
      props.onSignedIn(await call<Session>('GET', '/dashboard/session'));
    } catch (caught) {
      setError(
        caught instanceof ApiError && caught.status === 401
          ? 'Sign-in failed: this API key is wrong or revoked. Check the key (it starts with async_) and try again.'
          : `Sign-in failed: ${(caught as Error).message}`,
      );
    } finally {
      setBusy(false);
    }
  };
  return (
    <main id="main" class="sign-in">
      <h1>AsyncQueue</h1>
      <p>Sign in with one of your team's API keys. The key is exchanged for a session and not kept in the browser.</p>
      {props.notice && (
        <p class="notice" role="status">
          {props.notice}
        </p>
      )}
      <form onSubmit={submit}>
        <label for="apiKey">API key</label>
        <input id="apiKey" name="apiKey" type="password" autoComplete="off" required placeholder="async_…" />
        <button type="submit" disabled={busy}>
          Sign in
        </button>
      </form>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
    </main>
  );
}
