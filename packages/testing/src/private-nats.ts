import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eventually } from "./apps.ts";

/**
 * A NATS server (with JetStream) of one test's own, stopped and started again on the same port and
 * storage: a bus outage that leaves the run's shared server alone.
 */
export class PrivateNats {
  readonly #dir = mkdtempSync(join(tmpdir(), "hexa-private-nats-"));
  #child: ChildProcess | undefined;
  readonly port: number;

  constructor(port: number) {
    this.port = port;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  /** Starts the server; resolves once it listens. */
  async start(): Promise<void> {
    const child = spawn(
      "nats-server",
      ["-js", "-a", "127.0.0.1", "-p", String(this.port), "-sd", this.#dir],
      {
        stdio: "ignore",
      },
    );
    this.#child = child;
    await eventually(
      () =>
        new Promise<void>((listening, refused) => {
          const socket = connect({ host: "127.0.0.1", port: this.port }, () => {
            socket.destroy();
            listening();
          });
          socket.once("error", refused);
        }),
    );
  }

  /** SIGKILL: the bus is gone at once, as in a crash. Its storage stays for the next start. */
  async kill(): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((done) => child.once("exit", done));
    child.kill("SIGKILL");
    await exited;
  }

  /** Kills it and deletes its storage. */
  async remove(): Promise<void> {
    await this.kill();
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
