import { readEnvironment } from "@hexa/adapters/runtime/config";
import { activeTraceparent, otlpTracesEndpoint, startTracing } from "@hexa/adapters/telemetry/tracing";
import { trace } from "@opentelemetry/api";
import { describe, expect, it } from "vitest";

describe("tracing configuration", () => {
  it("sends spans to the traces endpoint the OTEL_* variables name", () => {
    expect(otlpTracesEndpoint({})).toBeUndefined();
    expect(otlpTracesEndpoint({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318/" })).toBe(
      "http://collector:4318/v1/traces",
    );
    expect(
      otlpTracesEndpoint({
        OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318",
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://traces:4318/custom",
      }),
    ).toBe("http://traces:4318/custom");
  });

  it("checks the OTEL_* variables at start", () => {
    const env = readEnvironment({});
    expect(env.OTEL_TRACES_SAMPLER).toBe("parentbased_always_on");
    expect(() => readEnvironment({ OTEL_TRACES_SAMPLER: "sometimes" })).toThrow(/OTEL_TRACES_SAMPLER/);
    expect(() => readEnvironment({ OTEL_TRACES_SAMPLER_ARG: "2" })).toThrow(/OTEL_TRACES_SAMPLER_ARG/);
    expect(() => readEnvironment({ OTEL_EXPORTER_OTLP_ENDPOINT: "collector:4318" })).toThrow(
      /OTEL_EXPORTER_OTLP_ENDPOINT/,
    );
  });

  it("registers nothing without an endpoint: spans are no-ops and events carry no traceparent", async () => {
    const tracing = startTracing({ serviceName: "order" });
    expect(tracing.enabled).toBe(false);
    await trace.getTracer("hexa").startActiveSpan("work", async (span) => {
      expect(span.isRecording()).toBe(false);
      expect(activeTraceparent()).toBeUndefined();
      span.end();
    });
    await tracing.shutdown();
  });
});
