import { api } from './http.ts';

export type SignedIn = { cookie: string; sessionId: string; csrfToken: string; setCookie: string };

/** Signs in through POST /dashboard/session as the dashboard does; returns the cookie and CSRF token. */
export async function signIn(baseUrl: string, apiKey: string): Promise<SignedIn> {
  const res = await api(baseUrl, 'POST', '/dashboard/session', { body: { apiKey } });
  if (res.status !== 201) throw new Error(`sign-in answered ${res.status}: ${res.text}`);
  const setCookie = res.headers.get('set-cookie') ?? '';
  const cookie = setCookie.split(';')[0] as string;
  return { cookie, sessionId: cookie.split('=')[1] as string, csrfToken: res.body.csrfToken, setCookie };
}
