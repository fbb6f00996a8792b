// Bootstrap of the firmware worker thread. A worker cannot start from a .ts file (Node
// rejects the extension, ERR_UNKNOWN_FILE_EXTENSION, even when the parent runs under tsx or
// vitest: the worker is a fresh Node context), so this plain module registers tsx's loader
// first and then imports the TypeScript worker (see /work/shared/NOTES.md, comlink).
import { register } from "tsx/esm/api";

register();
await import("./worker.ts");
