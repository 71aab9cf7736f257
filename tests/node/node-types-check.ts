// Compiled with `tsc --noEmit --strict` by scripts/test.sh: LnNode's
// declarations type a wallet's uses precisely.
import { LnNode } from "lnwasm";
import type {
  ChannelSummary, ChannelType, ClosedChannel, CreatedInvoice, InvoiceSummary, LnNodeEvent, LnwasmNodeError, NodeInfo,
  PaymentResult, PaymentSummary,
} from "lnwasm";

async function wallet(): Promise<void> {
  const node: LnNode = await LnNode.create({
    seed: "00".repeat(32), network: "regtest", bestHeight: 100, storage: { indexedDb: "wallet" },
  });
  const off: () => void = node.onEvent((e: LnNodeEvent) => {
    if (e.type === "paymentReceived") {
      const amount: bigint = e.amountMsat;
      void amount;
    } else if (e.type === "publish") {
      const hex: string = e.txHex;
      void hex;
    }
  });
  await node.connect("02ab@1.2.3.4:9735", { proxyUrl: "wss://proxy.example" });
  const opened = await node.openChannel({
    nodeId: "02ab", fundingSat: 100_000n, pushMsat: 0n,
    fund: async ({ scriptPubKey, amountSat }) => `${scriptPubKey}${amountSat}`,
  });
  const id: string = opened.channelId;
  const channels: ChannelSummary[] = node.listChannels();
  const local: bigint = channels[0].localBalanceMsat;
  const feerate: number | null = channels[0].feeratePerKw;
  const channelType: ChannelType | null = channels[0].channelType;
  // @ts-expect-error: not a channel type
  const notAType: ChannelType = "legacy";
  const info: NodeInfo = node.info();
  const inv: CreatedInvoice = await node.createInvoice({ amountMsat: 1000n, description: "x" });
  try {
    const r: PaymentResult = await node.payInvoice(inv.paymentRequest, { maxFeeMsat: 10n });
    const preimage: string = r.preimage;
    void preimage;
  } catch (e) {
    const err = e as LnwasmNodeError;
    const hop: number | undefined = err.hopIndex;
    void hop, err.code;
  }
  const invoices: InvoiceSummary[] = node.listInvoices();
  const paid: boolean = invoices.some((i) => i.status === "paid" && i.receivedMsat !== null);
  const payments: PaymentSummary[] = node.listPayments();
  const fee: bigint | null = payments[0].feeMsat;
  // @ts-expect-error an invoice's status is open, paid or expired
  const unknownStatus: boolean = invoices[0].status === "settled";
  // @ts-expect-error the amount of an any-amount invoice is null
  const amount: bigint = invoices[0].amountMsat;
  void paid, fee, unknownStatus, amount;
  await node.setFeeEstimate(1500);
  const estimate: number | null = node.info().feeEstimatePerKw;
  void estimate;
  const closed: ClosedChannel = await node.closeChannel(id, { feeratePerKw: 1000 });
  const closingTxid: string = closed.txid;
  const forced: ClosedChannel = await node.closeChannel(id, { force: true });
  const all: PromiseSettledResult<ClosedChannel>[] = await node.closeAllChannels({ force: true });
  for (const r of all) {
    if (r.status === "fulfilled") {
      const kind: "mutual" | "localForce" | "remoteForce" | "breach" = r.value.kind;
      void kind;
    }
  }
  // @ts-expect-error force is a boolean
  await node.closeChannel(id, { force: "yes" });
  void closingTxid, forced;
  await node.blockConnected(101, []);
  // @ts-expect-error fundingSat is required
  await node.openChannel({ nodeId: "02ab", fund: () => "" });
  // @ts-expect-error storage is "memory" or { indexedDb }
  await LnNode.create({ seed: "00", bestHeight: 1, storage: "disk" });
  // @ts-expect-error balances are bigints
  const wrong: number = channels[0].localBalanceMsat;
  off();
  await node.stop();
  void id, local, feerate, info, wrong;
}
void wallet;
