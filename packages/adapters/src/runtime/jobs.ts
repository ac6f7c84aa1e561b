import type { Logger } from "pino";
import type { Job } from "./service-module.ts";

/**
 * Runs jobs, each in its own loop, until stopped; stop waits for rounds in progress.
 *
 * A job's pace (see {@link Job}): `everyMs` after a round that found work, or failed, or could not
 * tell; after a round that found nothing the pause doubles, up to `maxIdleMs`. A wake (a commit
 * that makes work for the job, see {@link JobRunner.start}) brings the next round forward to
 * `everyMs` after the last one ended, never sooner, and the pauses after it start again from
 * `everyMs`: under load a job runs at its pace, as if it never backed off, and a wake costs no
 * extra round.
 */
export class JobRunner {
  readonly #logger: Logger;
  readonly #loops: Promise<void>[] = [];
  readonly #stopping = new AbortController();

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  /** Starts the job's loop; returns its wake, for the commits that make work for it. */
  start(job: Job): () => void {
    const loop = new JobLoop(job, this.#logger, this.#stopping.signal);
    this.#loops.push(loop.run());
    return () => loop.wake();
  }

  async stop(): Promise<void> {
    this.#stopping.abort();
    await Promise.all(this.#loops);
  }
}

class JobLoop {
  readonly #job: Job;
  readonly #logger: Logger;
  readonly #signal: AbortSignal;
  /** Woken since the last round began: the pause after the next (or this) round is `everyMs`. */
  #woken = false;
  /** While pausing: ends the pause once `everyMs` has passed since the last round. */
  #bringForward: (() => void) | undefined;

  constructor(job: Job, logger: Logger, signal: AbortSignal) {
    this.#job = job;
    this.#logger = logger;
    this.#signal = signal;
  }

  wake(): void {
    this.#woken = true;
    this.#bringForward?.();
  }

  async run(): Promise<void> {
    const { everyMs } = this.#job;
    const maxIdleMs = Math.max(everyMs, this.#job.maxIdleMs ?? everyMs);
    let pauseMs = everyMs;
    while (!this.#signal.aborted) {
      let found: number | undefined;
      try {
        found = await this.#job.run();
      } catch (error) {
        this.#logger.warn({ err: error, job: this.#job.name }, "job round failed");
      }
      pauseMs = found === 0 && !this.#woken ? Math.min(pauseMs * 2, maxIdleMs) : everyMs;
      this.#woken = false;
      await this.#pause(pauseMs);
    }
  }

  /** Waits `ms`, or less once woken (but at least `everyMs` from now), or until stopped. */
  async #pause(ms: number): Promise<void> {
    if (this.#signal.aborted) return;
    const ended = performance.now();
    await new Promise<void>((resume) => {
      let timer = setTimeout(done, ms);
      const signal = this.#signal;
      function done() {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        resume();
      }
      signal.addEventListener("abort", done, { once: true });
      this.#bringForward = () => {
        this.#bringForward = undefined;
        const left = Math.max(0, ended + this.#job.everyMs - performance.now());
        if (left >= ms - (performance.now() - ended)) return;
        clearTimeout(timer);
        timer = setTimeout(done, left);
      };
    });
    this.#bringForward = undefined;
  }
}
