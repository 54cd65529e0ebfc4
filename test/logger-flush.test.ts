import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The server logs to stdout asynchronously (logging/logger.ts): lines are handed to the kernel in
 * batches. None may be lost when the process exits right after logging them.
 */
const LOGGER = path.resolve(import.meta.dirname, '../server/src/logging/logger.ts');

describe('stdout logger', () => {
  it('writes every line logged just before process.exit, in order', async () => {
    const script = `import { createLogger } from ${JSON.stringify(LOGGER)};
      const log = createLogger('info');
      for (let i = 0; i < 20000; i += 1) log.info({ n: i }, 'line');
      process.exit(0);`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code).toBe(0);
    const numbers = out
      .trim()
      .split('\n')
      .map((line) => (JSON.parse(line) as { n: number }).n);
    expect(numbers).toEqual(Array.from({ length: 20000 }, (_, i) => i));
  });
});
