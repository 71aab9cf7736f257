// Compiled with `tsc --noEmit --strict` by scripts/test.sh: the package's
// declarations must type these uses precisely (no `any` leaking through).
import { decodeInvoice, encodeInvoice } from "lnwasm";
import type { Invoice, InvoiceFields, LnwasmError, Network, RouteHintHop, InvoiceErrorCode } from "lnwasm";

const inv: Invoice = decodeInvoice("lnbc1...");
const network: Network = inv.network;
const amount: bigint | null = inv.amountMsat;
const hops: RouteHintHop[][] = inv.routeHints;
const expired: boolean = inv.isExpired(1700000000);
const features: number[] = inv.features;
// @ts-expect-error amountMsat is not a number
const wrong: number = inv.amountMsat;

const fields: InvoiceFields = {
  network: "signet",
  amountMsat: 1000n,
  paymentHash: "00".repeat(32),
  paymentSecret: "11".repeat(32),
  description: "coffee",
  fieldOrder: ["p", "s", "d"],
};
const s: string = encodeInvoice(fields, "22".repeat(32));

// @ts-expect-error "mainnet" is not a Network
const badNetwork: InvoiceFields = { ...fields, network: "mainnet" };

try {
  decodeInvoice(s);
} catch (e) {
  const code: InvoiceErrorCode = (e as LnwasmError).code;
  // @ts-expect-error not a known code
  const notACode: InvoiceErrorCode = "NOPE";
  void code, notACode;
}
void network, amount, hops, expired, features, wrong, badNetwork;
