/**
 * The product-trial order saga, choreographed: no orchestrator holds it, each context reacts to the
 * events of the others. This list is where it reads as one piece: every step, the context that takes
 * it, what starts it (a caller's RPC or another context's event), the use case it runs, and the events
 * it may publish. A compensation names the step whose effect it undoes.
 *
 * It is documentation, and it is held to the code: a test checks every event-started step against
 * the policies the services declare, and the saga tests (given / when / expect) follow these steps on
 * the running services.
 */
export interface SagaStep {
  readonly step: string;
  readonly context: "order" | "warehouse" | "delivery";
  /** What starts the step: `rpc:<Method>` for a caller's call, else the event's full type. */
  readonly on: string;
  /** The core use case (or policy) the step runs. */
  readonly runs: string;
  /** The events the step may publish, each the full type of its proto message. */
  readonly emits: readonly string[];
  /** The step whose effect this one undoes, when it is a compensation. */
  readonly compensates?: string;
}

const ORDER = "trial.order.v1";
const WAREHOUSE = "trial.warehouse.v1";
const DELIVERY = "trial.delivery.v1";

export const ORDER_SAGA: readonly SagaStep[] = [
  {
    step: "place the order",
    context: "order",
    on: "rpc:PlaceOrder",
    runs: "placeOrder",
    emits: [`${ORDER}.OrderPlaced`],
  },
  {
    step: "reserve the stock",
    context: "warehouse",
    on: `${ORDER}.OrderPlaced`,
    runs: "whenOrderPlaced",
    emits: [`${WAREHOUSE}.StockReserved`, `${WAREHOUSE}.StockChanged`, `${WAREHOUSE}.StockShortage`],
  },
  {
    step: "reject the order the stock cannot fill",
    context: "order",
    on: `${WAREHOUSE}.StockShortage`,
    runs: "whenStockShortage",
    emits: [`${ORDER}.OrderRejected`],
    compensates: "place the order",
  },
  {
    step: "start the delivery",
    context: "delivery",
    on: `${WAREHOUSE}.StockReserved`,
    runs: "whenStockReserved",
    emits: [`${DELIVERY}.DeliveryStarted`],
  },
  {
    step: "mark the order delivering",
    context: "order",
    on: `${DELIVERY}.DeliveryStarted`,
    runs: "whenDeliveryStarted",
    emits: [],
  },
  {
    step: "confirm the delivery",
    context: "delivery",
    on: "rpc:CompleteDelivery",
    runs: "completeDelivery",
    emits: [`${DELIVERY}.DeliveryCompleted`],
  },
  {
    step: "mark the order delivered",
    context: "order",
    on: `${DELIVERY}.DeliveryCompleted`,
    runs: "whenDeliveryCompleted",
    emits: [`${ORDER}.ReturnRequested`],
  },
  {
    step: "take the units out",
    context: "warehouse",
    on: `${DELIVERY}.DeliveryCompleted`,
    runs: "whenDeliveryCompleted",
    emits: [`${WAREHOUSE}.StockChanged`],
  },
  {
    step: "cancel the order",
    context: "order",
    on: "rpc:CancelOrder",
    runs: "cancelOrder",
    emits: [`${ORDER}.OrderCancelled`],
    compensates: "place the order",
  },
  {
    step: "stop the delivery",
    context: "delivery",
    on: `${ORDER}.OrderCancelled`,
    runs: "whenOrderCancelled",
    emits: [`${DELIVERY}.DeliveryCancelled`],
    compensates: "start the delivery",
  },
  {
    step: "release the stock",
    context: "warehouse",
    on: `${DELIVERY}.DeliveryCancelled`,
    runs: "whenDeliveryCancelled",
    emits: [`${WAREHOUSE}.StockChanged`],
    compensates: "reserve the stock",
  },
  {
    step: "request the return",
    context: "order",
    on: "rpc:RequestReturn",
    runs: "requestReturn",
    emits: [`${ORDER}.ReturnRequested`],
  },
  {
    step: "send a courier for the pickup",
    context: "delivery",
    on: `${ORDER}.ReturnRequested`,
    runs: "whenReturnRequested",
    emits: [`${DELIVERY}.PickupRequested`],
  },
  {
    step: "confirm the pickup",
    context: "delivery",
    on: "rpc:CompletePickup",
    runs: "completePickup",
    emits: [`${DELIVERY}.PickupCompleted`],
  },
  {
    step: "mark the order returned",
    context: "order",
    on: `${DELIVERY}.PickupCompleted`,
    runs: "whenPickupCompleted",
    emits: [],
  },
  {
    step: "put the units back",
    context: "warehouse",
    on: `${DELIVERY}.PickupCompleted`,
    runs: "whenPickupCompleted",
    emits: [`${WAREHOUSE}.StockChanged`],
    compensates: "take the units out",
  },
];
