import { describe, expect, it } from 'vitest';
import { needsTransaction, sendsWebhook, webhookOnlyChange } from './task-lifecycle.ts';
import { LIFECYCLE, type Transition } from './task-status.ts';

const withWebhook = { onCompleteUrl: 'https://example.com/hook' };
const withoutWebhook = { onCompleteUrl: null };

describe('needsTransaction (the lifecycle decides, callers do not predict)', () => {
  it('always opens one for a transition that brings jobs (retry, wait, poll)', () => {
    for (const name of ['retry', 'wait', 'poll'] as const) {
      expect(needsTransaction(name, withoutWebhook), name).toBe(true);
      expect(needsTransaction(name, null), name).toBe(true);
    }
  });

  it('opens one for a terminal change only when the task has (or may have) onCompleteUrl', () => {
    for (const name of ['complete', 'fail', 'expire'] as const) {
      expect(needsTransaction(name, withWebhook), name).toBe(true);
      expect(needsTransaction(name, withoutWebhook), name).toBe(false);
      expect(needsTransaction(name, null), name).toBe(true);
      expect(needsTransaction(name, { sendsWebhook: false }), name).toBe(false);
      expect(needsTransaction(name, { sendsWebhook: true }), name).toBe(true);
    }
  });

  it('never opens one for a cancel or progress: one autocommit statement', () => {
    for (const name of ['cancel', 'cancelAttempt', 'progress'] as const) {
      expect(needsTransaction(name, withWebhook), name).toBe(false);
      expect(needsTransaction(name, null), name).toBe(false);
    }
  });

  it('agrees with sendsWebhook for every entry of the table', () => {
    for (const name of Object.keys(LIFECYCLE) as Transition[]) {
      const entry = LIFECYCLE[name];
      const webhook = entry.to.some((status) => sendsWebhook(withWebhook, status));
      expect(needsTransaction(name, withWebhook), name).toBe(entry.jobs || webhook);
    }
  });
});

describe('webhookOnlyChange (a statement that can carry the webhook job itself)', () => {
  const id = '0190c0de-0000-7000-8000-000000000001';
  it('is the task id for an ending known to send the webhook and bring no other job', () => {
    for (const name of ['complete', 'fail', 'expire'] as const) {
      expect(webhookOnlyChange(name, { id, ...withWebhook }), name).toBe(id);
      expect(webhookOnlyChange(name, { id, sendsWebhook: true }), name).toBe(id);
    }
  });

  it('is null when the webhook is not certain, the id unknown, or the change brings other jobs', () => {
    for (const name of ['complete', 'fail', 'expire'] as const) {
      expect(webhookOnlyChange(name, { id, ...withoutWebhook }), name).toBeNull();
      expect(webhookOnlyChange(name, { id, sendsWebhook: false }), name).toBeNull();
      expect(webhookOnlyChange(name, withWebhook), name).toBeNull();
      expect(webhookOnlyChange(name, null), name).toBeNull();
    }
    for (const name of ['retry', 'wait', 'poll', 'cancel', 'cancelAttempt', 'progress', 'claim', 'throttle'] as const) {
      expect(webhookOnlyChange(name, { id, ...withWebhook }), name).toBeNull();
    }
  });
});
