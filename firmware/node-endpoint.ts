/**
 * A comlink Endpoint over a Node worker_threads Worker or MessagePort. comlink ships one
 * (comlink/dist/umd/node-adapter.js), but its typings declare an ES default export on a
 * UMD module, which strict NodeNext TypeScript cannot call; these few lines say what it
 * does: comlink wants `{ data }` message events, Node emits the data itself.
 */
import type { Endpoint } from "comlink";

interface NodePort {
  postMessage(message: unknown, transfer?: readonly unknown[]): void;
  on(event: "message", listener: (data: unknown) => void): unknown;
  off(event: "message", listener: (data: unknown) => void): unknown;
}

type Listener = Parameters<Endpoint["addEventListener"]>[1];
type Transfer = Parameters<Endpoint["postMessage"]>[1];

export function nodeEndpoint(port: NodePort): Endpoint {
  const wrapped = new WeakMap<Listener, (data: unknown) => void>();
  return {
    postMessage: (message: unknown, transfer?: Transfer) => port.postMessage(message, transfer as readonly unknown[] | undefined),
    addEventListener: (_type: string, listener: Listener) => {
      const l = (data: unknown) => {
        const event = { data } as unknown as Parameters<Extract<Listener, (...a: never[]) => unknown>>[0];
        if (typeof listener === "function") listener(event);
        else listener.handleEvent(event);
      };
      wrapped.set(listener, l);
      port.on("message", l);
    },
    removeEventListener: (_type: string, listener: Listener) => {
      const l = wrapped.get(listener);
      if (l === undefined) return;
      port.off("message", l);
      wrapped.delete(listener);
    },
  };
}
