// gnrhost SDK for AssemblyScript: page handlers for the WASM page ABI v1.
//
//   import { serve, Result, GnrError, method, storeGet } from "<path>/sdk/assemblyscript/assembly";
//   export { gnr_abi_v1 } from "<path>/sdk/assemblyscript/assembly";
//   export function gnr_page_load(): i32 { return serve(load); }
//
// See README.md for the build flags (--runtime minimal --use abort=gnrAbort).

import "./abort";

export * from "./page";
export * from "./json";

/** The ABI version marker. Re-export it from your entry file; the host never calls it. */
export function gnr_abi_v1(): void {}
