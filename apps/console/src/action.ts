// A command from a form: the RPC, its refusal mapped for the screen, and every query refreshed
// once it lands (the read models answer what changed). A refusal the service marks as passing
// (RetryInfo: "not heard of it yet") is retried after the wait it names, up to three attempts.
import type { DescMessage, DescMethodUnary, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import { useMutation } from "@connectrpc/connect-query";
import { useQueryClient } from "@tanstack/react-query";
import { type Refusal, refusalOf } from "./errors.ts";

const MAX_ATTEMPTS = 3;

export interface Action<I extends DescMessage, O extends DescMessage> {
  run(input: MessageInitShape<I>): Promise<MessageShape<O> | undefined>;
  readonly refusal: Refusal | undefined;
  readonly pending: boolean;
  readonly result: MessageShape<O> | undefined;
}

export function useAction<I extends DescMessage, O extends DescMessage>(
  method: DescMethodUnary<I, O>,
): Action<I, O> {
  const queries = useQueryClient();
  const mutation = useMutation(method, {
    onSettled: () => queries.invalidateQueries(),
    retry: (failures, error) => failures < MAX_ATTEMPTS - 1 && refusalOf(error).retryAfterMs !== undefined,
    retryDelay: (_, error) => refusalOf(error).retryAfterMs ?? 0,
  });
  return {
    run: (input) => mutation.mutateAsync(input).catch(() => undefined),
    refusal: mutation.error ? refusalOf(mutation.error) : undefined,
    pending: mutation.isPending,
    result: mutation.data,
  };
}
