// Browser and bundler entry: loads the wasm module once, then every export
// is ready to call. (Node uses ./node/lnwasm.js, which loads synchronously.)
import init from "./web/lnwasm.js";

await init();

export * from "./web/lnwasm.js";
