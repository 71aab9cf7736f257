// The demo page: decodes what is pasted and shows every field. Values are
// always inserted as text, never as HTML: invoice descriptions are
// untrusted input.
import { decodeInvoice } from "../pkg/index.js";

const input = document.getElementById("invoice");
const status = document.getElementById("status");
const table = document.getElementById("fields");
const tbody = table.querySelector("tbody");

function formatAmount(msat) {
  if (msat === null) return "any amount (the payer chooses)";
  const rest = msat % 1000n;
  return `${msat} msat (${msat / 1000n}${rest ? "." + String(rest).padStart(3, "0") : ""} sat)`;
}

const iso = (t) => new Date(t * 1000).toISOString();

function rows(inv) {
  return [
    ["Network", inv.network],
    ["Amount", formatAmount(inv.amountMsat)],
    ["Description", inv.description ?? "—"],
    ["Description hash", inv.descriptionHash ?? "—"],
    ["Payee node id", inv.payeeNodeId],
    ["Payment hash", inv.paymentHash],
    ["Payment secret", inv.paymentSecret],
    ["Created", `${inv.timestamp} (${iso(inv.timestamp)})`],
    ["Expiry", `${inv.expirySeconds} s: ${inv.isExpired() ? "expired" : "expires"} ${iso(inv.timestamp + inv.expirySeconds)}`],
    ["Min final CLTV delta", String(inv.minFinalCltvExpiryDelta)],
    ["Features", inv.features.join(", ") || "—"],
    ["Fallback addresses", inv.fallbackAddresses.join("\n") || "—"],
    ["Route hints", inv.routeHints.map((hint, i) => `#${i + 1}: ` + hint.map((h) =>
      `${h.nodeId} via ${h.shortChannelId} (base ${h.feeBaseMsat} msat, ${h.feeProportionalMillionths} ppm, CLTV Δ ${h.cltvExpiryDelta})`,
    ).join(" → ")).join("\n") || "—"],
    ["Metadata", inv.metadata ?? "—"],
  ];
}

function show() {
  const text = input.value.trim();
  tbody.replaceChildren();
  table.hidden = true;
  status.className = "";
  status.textContent = "";
  if (!text) return;
  try {
    const inv = decodeInvoice(text);
    for (const [name, value] of rows(inv)) {
      const tr = document.createElement("tr");
      const th = document.createElement("th");
      const td = document.createElement("td");
      th.textContent = name;
      td.textContent = value;
      tr.append(th, td);
      tbody.append(tr);
    }
    table.hidden = false;
    status.className = "ok";
    status.textContent = "Valid invoice, signature checked.";
  } catch (e) {
    status.className = "error";
    status.textContent = `${e.code ?? "ERROR"}: ${e.message}`;
  }
}

input.addEventListener("input", show);
// A link can carry the invoice: ?invoice=lnbc...
input.value = new URLSearchParams(location.search).get("invoice") ?? "";
status.textContent = "Ready.";
show();
