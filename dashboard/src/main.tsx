import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, call, setSession } from './api.ts';
import { FlowKeysPage } from './flow-keys-page.tsx';
import { SignIn } from './sign-in.tsx';
import { TaskPage } from './task-page.tsx';
import { TasksPage } from './tasks-page.tsx';
import { TokensPage } from './tokens-page.tsx';

type Session = { teamId: string; csrfToken: string; expiresAt: string };

/** The page named by the URL's hash: #/ (tasks), #/tasks/<id>, #/flow-keys, #/tokens. */
function useRoute(): string {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const onChange = () => setHash(location.hash);
    addEventListener('hashchange', onChange);
    return () => removeEventListener('hashchange', onChange);
  }, []);
  return hash.replace(/^#/, '') || '/';
}

function App() {
  const [session, setSessionState] = useState<Session | null | undefined>(undefined);
  const [notice, setNotice] = useState('');
  const signedOut = (message: string) => {
    setSessionState(null);
    setNotice(message);
  };
  const adopt = (value: Session) => {
    setSession(value.csrfToken, () =>
      signedOut('Your session ended (signed out, expired or key revoked). Sign in again.'),
    );
    setNotice('');
    setSessionState(value);
  };
  useEffect(() => {
    call<Session>('GET', '/dashboard/session')
      .then(adopt)
      .catch((error: unknown) => {
        setSessionState(null);
        if (error instanceof ApiError && error.status !== 401) setNotice(error.message);
      });
  }, []);
  const route = useRoute();
  if (session === undefined) return <main id="main">Loading…</main>;
  if (session === null) return <SignIn notice={notice} onSignedIn={adopt} />;
  const signOut = async () => {
    await call('DELETE', '/dashboard/session').catch(() => {});
    signedOut('Signed out.');
  };
  return (
    <>
      <header class="top">
        <a class="brand" href="#/">
          AsyncQueue
        </a>
        <nav aria-label="Main">
          <a href="#/" aria-current={route === '/' ? 'page' : undefined}>
            Tasks
          </a>
          <a href="#/flow-keys" aria-current={route === '/flow-keys' ? 'page' : undefined}>
            Flow keys
          </a>
          <a href="#/tokens" aria-current={route === '/tokens' ? 'page' : undefined}>
            Vault tokens
          </a>
        </nav>
        <button type="button" class="link" onClick={signOut}>
          Sign out
        </button>
      </header>
      <main id="main">{page(route)}</main>
    </>
  );
}

function page(route: string) {
  const task = /^\/tasks\/([0-9a-f-]{36})$/.exec(route);
  if (task) return <TaskPage key={task[1]} id={task[1] as string} />;
  if (route === '/flow-keys') return <FlowKeysPage />;
  if (route === '/tokens') return <TokensPage />;
  return <TasksPage />;
}

render(<App />, document.getElementById('app') as HTMLElement);
