import type { Logger } from "pino";
import type { Job } from "./service-module.ts";

/** Runs jobs, each in its own loop, until stopped; stop waits for rounds in progress. */
export class JobRunner {
  readonly #logger: Logger;
  readonly #loops: Promise<void>[] = [];
  readonly #stopping = new AbortController();

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  start(job: Job): void {
    this.#loops.push(this.#loop(job));
  }

  async stop(): Promise<void> {
    this.#stopping.abort();
    await Promise.all(this.#loops);
  }

  async #loop(job: Job): Promise<void> {
    const signal = this.#stopping.signal;
    while (!signal.aborted) {
      try {
        await job.run();
      } catch (error) {
        this.#logger.warn({ err: error, job: job.name }, "job round failed");
      }
      await new Promise<void>((resume) => {
        const timer = setTimeout(resume, job.everyMs);
        signal.addEventListener(
          "abort",
          () => {
            clearTimeout(timer);
            resume();
          },
          { once: true },
        );
      });
    }
  }
}
