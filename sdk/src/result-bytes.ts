import type { Task, TaskResult } from './generated/api-types.ts';

type Encoded = Pick<TaskResult, 'body' | 'bodyEncoding'>;

/**
 * The bytes of a task's result body, whatever its encoding: the UTF-8 of the text for `"utf8"`,
 * the decoded base64 for `"base64"` (audio, images, gzip). Pass a task or its `result`; a task
 * without a result gives `null`.
 *
 * @example
 * const done = await aq.tasks.wait(task.id);
 * await writeFile('speech.mp3', resultBytes(done) ?? new Uint8Array());
 */
export function resultBytes(source: Pick<Task, 'result'> | Encoded | null | undefined): Uint8Array | null {
  const result = source && 'body' in source ? source : (source?.result ?? null);
  if (!result) return null;
  if (result.bodyEncoding === 'base64') return fromBase64(result.body);
  return new TextEncoder().encode(result.body);
}

function fromBase64(text: string): Uint8Array {
  // atob exists in every runtime the SDK supports (Node ≥ 20, browsers, Deno, Bun).
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
