// The server `./hexa benchmark connect` measures: Connect on Node's HTTP server with nothing else,
// serving OrderService.GetOrder with an empty answer at once. No authentication, interceptors,
// database or bus: the least any RPC through Connect costs on this machine.
//
//   node apps/ops/src/bare-connect-server.ts <port>     (prints "listening" once it accepts calls)
import { createServer } from "node:http";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { OrderService } from "@hexa/proto/trial/order/v1/order_pb";

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  console.error("usage: bare-connect-server.ts <port>");
  process.exit(2);
}
const server = createServer(
  connectNodeAdapter({
    routes(router) {
      router.rpc(OrderService.method.getOrder, async () => ({}));
    },
  }),
);
server.listen(port, "127.0.0.1", () => console.log("listening"));
process.once("SIGTERM", () => server.close(() => process.exit(0)));
