import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

/** Where Debian (and most distributions) put Chromium; CHROMIUM_PATH comes first when set. */
const CANDIDATES = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"];

function installed(): string | undefined {
  const override = process.env.CHROMIUM_PATH;
  if (override) return existsSync(override) ? override : undefined;
  return CANDIDATES.find((path) => existsSync(path));
}

/**
 * The headless Chromium the console's browser tests drive (npm's browser download does not work
 * everywhere, so it is the system's): found, else installed with apt when running as root, else
 * a reason for skipping them.
 */
export function findChromium(): { path: string } | { problem: string } {
  const found = installed();
  if (found) return { path: found };
  if (process.env.CHROMIUM_PATH)
    return { problem: `CHROMIUM_PATH ${process.env.CHROMIUM_PATH} does not exist` };
  if (process.getuid?.() !== 0 || spawnSync("apt-get", ["--version"]).status !== 0) {
    return { problem: "no chromium installed, and apt-get as root is not available to install it" };
  }
  console.log(
    "[tests] installing Debian's chromium for the console's browser tests (apt-get install chromium)",
  );
  const run = (args: string[]) =>
    spawnSync("apt-get", args, {
      stdio: ["ignore", "ignore", "inherit"],
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    });
  if (run(["install", "-y", "-qq", "chromium"]).status !== 0) {
    run(["update", "-qq"]);
    run(["install", "-y", "-qq", "chromium"]);
  }
  const now = installed();
  return now ? { path: now } : { problem: "apt-get install chromium failed" };
}
