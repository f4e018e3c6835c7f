/**
 * The relay of `forward` in a Worker of its own (src/_forward_relay.ts): its thread waits in
 * poll(2) itself. Messages in: one `RelayStart` (without the callback). Out:
 * `{ type: "connection", from }` per accepted connection, then `{ type: "stopped" }` once a
 * byte on the wake-up pipe closed every connection, or `{ type: "error", message }`.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { relay, type RelayStart } from "./_forward_relay.ts";

self.onmessage = async (e: MessageEvent<RelayStart>) => {
  try {
    await relay({
      ...e.data,
      block: true,
      onConnection: (from) => self.postMessage({ type: "connection", from }),
    });
    self.postMessage({ type: "stopped" });
  } catch (error) {
    self.postMessage({ type: "error", message: (error as Error).message });
  }
};
