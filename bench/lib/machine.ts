import { execFile } from 'node:child_process';
import os from 'node:os';
import { promisify } from 'node:util';

export type MachineInfo = {
  nproc: number;
  cpu: string;
  memGb: number;
  /** `free -g` as printed, for the README. */
  free: string;
  node: string;
  kernel: string;
  loadAvg: string;
  loadAvgEnd?: string;
};

export async function machineInfo(): Promise<MachineInfo> {
  const run = promisify(execFile);
  const free = await run('free', ['-g']).then(
    (r) => r.stdout.trim(),
    () => '(free not available)',
  );
  const nproc = await run('nproc').then(
    (r) => Number(r.stdout.trim()),
    () => os.availableParallelism(),
  );
  return {
    nproc,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    memGb: Math.round(os.totalmem() / 2 ** 30),
    free,
    node: process.version,
    kernel: `${os.type()} ${os.release()}`,
    loadAvg: os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' '),
  };
}
