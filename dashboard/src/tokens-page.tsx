import { useEffect, useState } from 'preact/hooks';
import { call, shortTime } from './api.ts';

type Token = { id: string; name: string; createdAt: string };

/** The team's vault tokens: create (the value is sent once, never shown again), list, delete. */
export function TokensPage() {
  const [tokens, setTokens] = useState<Token[]>([]);
  const [message, setMessage] = useState('');
  const load = () =>
    call<{ tokens: Token[] }>('GET', '/v1/tokens')
      .then((body) => setTokens(body.tokens))
      .catch((caught: unknown) => setMessage((caught as Error).message));
  useEffect(() => void load(), []);
  const create = async (event: Event) => {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const data = new FormData(form);
    try {
      const { token } = await call<{ token: Token }>('POST', '/v1/tokens', {
        name: data.get('name'),
        value: data.get('value'),
      });
      form.reset();
      setMessage(`Stored ${token.name} as ${token.id}: use that id as a header value.`);
      await load();
    } catch (caught) {
      setMessage((caught as Error).message);
    }
  };
  const remove = async (token: Token) => {
    try {
      await call('DELETE', `/v1/tokens/${token.id}`);
      setMessage(`Deleted ${token.name}.`);
      await load();
    } catch (caught) {
      setMessage((caught as Error).message);
    }
  };
  return (
    <>
      <h1>Vault tokens</h1>
      <form class="inline" onSubmit={create} aria-label="New vault token">
        <label for="token-name">Name</label>
        <input id="token-name" name="name" required maxLength={100} />
        <label for="token-value">Secret value</label>
        <input id="token-value" name="value" type="password" required autoComplete="off" />
        <button type="submit">Store</button>
      </form>
      {message && <p role="status">{message}</p>}
      <TokenTable tokens={tokens} remove={(token) => void remove(token)} />
    </>
  );
}

function TokenTable(props: { tokens: Token[]; remove: (token: Token) => void }) {
  const { tokens } = props;
  return (
    <>
      {tokens.length === 0 ? (
        <p>No tokens yet.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Id</th>
              <th scope="col">Created</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {tokens.map((t) => (
              <tr key={t.id}>
                <td>{t.name}</td>
                <td class="mono">{t.id}</td>
                <td>{shortTime(t.createdAt)}</td>
                <td>
                  <button type="button" onClick={() => props.remove(t)} aria-label={`Delete ${t.name}`}>
                    Delete
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
