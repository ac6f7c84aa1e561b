/**
 * Reads the `grpc-status-details-bin` trailer the way any gRPC client can: a google.rpc.Status
 * (code = 1, message = 2, repeated google.protobuf.Any details = 3) in the protobuf wire format.
 */
import { fromBinary } from "@bufbuild/protobuf";
import { BinaryReader } from "@bufbuild/protobuf/wire";
import { type Any, AnySchema } from "@bufbuild/protobuf/wkt";

export interface DecodedStatus {
  code: number;
  message: string;
  details: Any[];
}

export function decodeGrpcStatusDetails(bytes: Uint8Array): DecodedStatus {
  const reader = new BinaryReader(bytes);
  const status: DecodedStatus = { code: 0, message: "", details: [] };
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    switch (field) {
      case 1:
        status.code = reader.int32();
        break;
      case 2:
        status.message = reader.string();
        break;
      case 3:
        status.details.push(fromBinary(AnySchema, reader.bytes()));
        break;
      default:
        reader.skip(wireType);
    }
  }
  return status;
}
