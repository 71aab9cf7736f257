export * from "./web/lnwasm.js";
