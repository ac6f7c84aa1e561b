import net from "node:net";
import { ConfigurationError } from "./config.ts";

/**
 * Refuses a HOST:PORT that cannot be listened on (another process holds the port, or the address
 * is not this machine's), naming the variable to change. Checked before the database starts, so a
 * busy port costs a moment, not the start of PostgreSQL and the migrations. Port 0 (any free port)
 * always passes.
 */
export async function requireFreePort(host: string, port: number): Promise<void> {
  if (port === 0) return;
  const problem = await new Promise<string | undefined>((settle) => {
    const probe = net.createServer();
    probe.once("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "EADDRINUSE")
        settle(`PORT: ${port} is already in use on ${host}; set PORT to a free port`);
      else if (error.code === "EADDRNOTAVAIL") settle(`HOST: ${host} is not an address of this machine`);
      else if (error.code === "EACCES")
        settle(`PORT: ${port} needs privileges on ${host}; set PORT to 1024 or above`);
      else settle(`PORT: cannot listen on ${host}:${port} (${error.code ?? error.message})`);
    });
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => settle(undefined)));
  });
  if (problem) throw new ConfigurationError([problem]);
}
