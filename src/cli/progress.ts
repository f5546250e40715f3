/** A progress bar on stderr for long work; silent when stderr is not a terminal (pipes, CI, --json). */
import cliProgress from 'cli-progress';

export interface Progress {
  /** `phase` names the current step when one bar covers several (its total may change with the phase). */
  update(done: number, total: number, phase?: string): void;
  stop(): void;
}

export function progressBar(label: string, enabled = process.stderr.isTTY === true): Progress {
  if (!enabled) return { update: () => {}, stop: () => {} };
  const bar = new cliProgress.SingleBar(
    { format: `${label} [{bar}] {percentage}% | {value}/{total} | {duration_formatted} elapsed, eta {eta_formatted} {phase}`, stream: process.stderr, hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(done, total, phase = '') {
      if (!started) bar.start(total, 0, { phase });
      else if (bar.getTotal() !== total) bar.setTotal(total);
      started = true;
      bar.update(done, { phase });
    },
    stop() {
      if (started) bar.stop();
    },
  };
}
