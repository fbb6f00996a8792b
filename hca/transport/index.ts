/**
 * hca/transport: the RDMA transport of an adapter (RC and UD): requester, responder and
 * completer over transport packets (BTH to pad), with CQEs and EQEs in host memory.
 * README.md tells what is modelled and the choices made. The public face.
 */
export * from "./aeth.ts";
export * from "./completer.ts";
export * from "./cq.ts";
export * from "./engine.ts";
export * from "./eth.ts";
export * from "./opcodes.ts";
export * from "./packet.ts";
export * from "./protection.ts";
export * from "./psn.ts";
export * from "./qp-state.ts";
export * from "./qp.ts";
export * from "./requester.ts";
export * from "./responder.ts";
export * from "./responder-dma.ts";
export * from "./sgl.ts";
export * from "./wire.ts";
export * from "./work-request.ts";
export * from "./rig.ts";
export * from "./packet-builder.ts";
