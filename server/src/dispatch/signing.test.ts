import { createHmac } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { asyncQueueSignature, dispatchKey, dispatchSignature, secretKey, standardWebhookHeaders } from './signing.ts';

const OLD = `whsec_${Buffer.alloc(32, 1).toString('base64')}`;
const NEW = `whsec_${Buffer.alloc(32, 2).toString('base64')}`;
const STRANGER = `whsec_${Buffer.alloc(32, 3).toString('base64')}`;
const BODY = JSON.stringify({ event: 'task.completed', task: { id: 't1', status: 'completed', note: 'héllo' } });
const ID = 'msg_0190a0b0000070008000000000000001';

const nowSeconds = () => Math.floor(Date.now() / 1000);

describe('secretKey', () => {
  it('decodes the base64 after whsec_ (the prefix is optional)', () => {
    expect(secretKey(OLD)).toEqual(Buffer.alloc(32, 1));
    expect(secretKey(Buffer.alloc(32, 1).toString('base64'))).toEqual(Buffer.alloc(32, 1));
  });

  it.each(['whsec_', 'whsec_not base64!', ''])('rejects %j', (secret) => {
    expect(() => secretKey(secret)).toThrow('Invalid webhook secret');
  });
});

describe('asyncQueueSignature', () => {
  it('is t=<unix>,v1=<hex HMAC-SHA256 over "<t>.<body>">', () => {
    const expected = createHmac('sha256', Buffer.alloc(32, 1)).update(`1700000000.${BODY}`).digest('hex');
    expect(asyncQueueSignature([OLD], BODY, 1_700_000_000)).toBe(`t=1700000000,v1=${expected}`);
  });

  it('carries one v1 per secret during a rotation, in order', () => {
    const [t, first, second, ...rest] = asyncQueueSignature([OLD, NEW], BODY, 1_700_000_000).split(',');
    expect(t).toBe('t=1700000000');
    expect(rest).toEqual([]);
    expect(`t=1700000000,${first}`).toBe(asyncQueueSignature([OLD], BODY, 1_700_000_000));
    expect(`t=1700000000,${second}`).toBe(asyncQueueSignature([NEW], BODY, 1_700_000_000));
  });

  it('signs an empty body and refuses to sign without a secret', () => {
    expect(asyncQueueSignature([OLD], '', 1)).toMatch(/^t=1,v1=[0-9a-f]{64}$/);
    expect(() => asyncQueueSignature([], BODY, 1)).toThrow('No signing secret');
  });
});

describe('dispatchSignature', () => {
  it('is keyed by HMAC-SHA256(secret bytes, "asyncqueue-dispatch-v1") over "<t>.<METHOD>.<url>.<body>"', () => {
    const key = createHmac('sha256', Buffer.alloc(32, 1)).update('asyncqueue-dispatch-v1').digest();
    expect(dispatchKey(OLD)).toEqual(key);
    const url = 'https://t.test/run?a=1';
    const expected = createHmac('sha256', key).update(`1700000000.POST.${url}.${BODY}`).digest('hex');
    expect(dispatchSignature([OLD], { method: 'post', url, body: BODY }, 1_700_000_000)).toBe(
      `t=1700000000,v1=${expected}`,
    );
  });

  it('differs from the webhook signature of the same body and secret, and covers method and URL', () => {
    const request = { method: 'POST', url: 'https://t.test/run', body: BODY };
    const dispatch = dispatchSignature([OLD], request, 1_700_000_000);
    expect(dispatch).not.toBe(asyncQueueSignature([OLD], BODY, 1_700_000_000));
    expect(dispatch).not.toBe(dispatchSignature([OLD], { ...request, url: 'https://t.test/other' }, 1_700_000_000));
    expect(dispatch).not.toBe(dispatchSignature([OLD], { ...request, method: 'PUT' }, 1_700_000_000));
    expect(dispatchSignature([OLD], { ...request, body: null }, 1)).toBe(
      dispatchSignature([OLD], { ...request, body: '' }, 1),
    );
  });
});

describe('the keys kept per secret', () => {
  it('sign right for more secrets than are kept (1,000), the first ones again after the cache started over', () => {
    const secrets = Array.from({ length: 1_200 }, (_, i) => {
      const bytes = Buffer.alloc(32, 0);
      bytes.writeUInt32BE(i);
      return { whsec: `whsec_${bytes.toString('base64')}`, bytes };
    });
    for (const { whsec, bytes } of [...secrets, ...secrets.slice(0, 5)]) {
      const webhook = createHmac('sha256', bytes).update(`7.${BODY}`).digest('hex');
      expect(asyncQueueSignature([whsec], BODY, 7)).toBe(`t=7,v1=${webhook}`);
      const key = createHmac('sha256', bytes).update('asyncqueue-dispatch-v1').digest();
      const dispatch = createHmac('sha256', key).update(`7.GET.https://t.test/.`).digest('hex');
      expect(dispatchSignature([whsec], { method: 'GET', url: 'https://t.test/', body: null }, 7)).toBe(
        `t=7,v1=${dispatch}`,
      );
    }
  });
});

describe('standardWebhookHeaders, verified by the standardwebhooks package', () => {
  it('matches Webhook.sign and verifies with one secret', () => {
    const t = nowSeconds();
    const headers = standardWebhookHeaders([OLD], ID, t, BODY);
    expect(headers).toEqual({
      'webhook-id': ID,
      'webhook-timestamp': String(t),
      'webhook-signature': new Webhook(OLD).sign(ID, new Date(t * 1000), BODY),
    });
    expect(new Webhook(OLD).verify(BODY, headers)).toEqual(JSON.parse(BODY));
  });

  it('verifies with either secret during a rotation, and not with another', () => {
    const headers = standardWebhookHeaders([OLD, NEW], ID, nowSeconds(), BODY);
    expect(headers['webhook-signature']).toMatch(/^v1,\S+ v1,\S+$/);
    expect(new Webhook(OLD).verify(BODY, headers)).toEqual(JSON.parse(BODY));
    expect(new Webhook(NEW).verify(BODY, headers)).toEqual(JSON.parse(BODY));
    expect(() => new Webhook(STRANGER).verify(BODY, headers)).toThrow();
  });

  it('does not verify a changed body or id', () => {
    const headers = standardWebhookHeaders([OLD], ID, nowSeconds(), BODY);
    expect(() => new Webhook(OLD).verify(BODY.replace('completed', 'failed'), headers)).toThrow();
    expect(() => new Webhook(OLD).verify(BODY, { ...headers, 'webhook-id': 'msg_other' })).toThrow();
  });
});
