import { AppError } from '../../shared/app-error.ts';

/** The Idempotency-Key header and the idempotencyKey field must agree when both are sent. */
export function resolveIdempotencyKey(header: string | undefined, field: string | null | undefined): string | null {
  if (header !== undefined && field != null && header !== field) {
    throw new AppError('validation_failed', 'Idempotency-Key header and idempotencyKey field differ; send one', {
      details: [{ path: 'idempotencyKey', message: 'differs from the Idempotency-Key header' }],
    });
  }
  const key = field ?? header ?? null;
  if (key !== null && (key.length === 0 || key.length > 255)) {
    throw new AppError('validation_failed', 'Idempotency-Key must be 1–255 characters', {
      details: [{ path: 'idempotencyKey', message: 'must be 1–255 characters' }],
    });
  }
  return key;
}
