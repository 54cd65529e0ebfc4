import { api } from './http.ts';

export type SignedIn = { cookie: string; sessionId: string; csrfToken: string; setCookie: string };

let clients = 0;

/**
 * Signs in through POST /dashboard/session as the dashboard does; returns the cookie and CSRF
 * token. Each sign-in comes from an address of its own (X-Forwarded-For, used when the server runs
 * with TRUST_PROXY=1), so a test's many sign-ins do not spend one IP's 10 attempts a minute.
 */
export async function signIn(baseUrl: string, apiKey: string): Promise<SignedIn> {
  clients += 1;
  const headers = { 'x-forwarded-for': `203.0.113.${clients % 250}` };
  const res = await api(baseUrl, 'POST', '/dashboard/session', { body: { apiKey }, headers });
  if (res.status !== 201) throw new Error(`sign-in answered ${res.status}: ${res.text}`);
  const setCookie = res.headers.get('set-cookie') ?? '';
  const cookie = setCookie.split(';')[0] as string;
  return { cookie, sessionId: cookie.split('=')[1] as string, csrfToken: res.body.csrfToken, setCookie };
}
