//! Explicit routes and the per-hop amount and CLTV arithmetic (BOLT 4, BOLT 7).

use secp256k1::PublicKey;

use super::ChannelView;
use crate::invoice::{Invoice, RouteHintHop};
use crate::onion::{HopPayload, PaymentData};
use crate::types::{Msat, PaymentSecret, ShortChannelId};

/// One hop of a route: the channel `short_channel_id` that reaches
/// `node_id`, and the relay policy of that channel (set by the node at its
/// other end). The policy of the first hop (our own channel) is ignored: we
/// do not pay ourselves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteHop {
    pub node_id: PublicKey,
    pub short_channel_id: ShortChannelId,
    pub fee_base_msat: u32,
    pub fee_proportional_millionths: u32,
    pub cltv_expiry_delta: u16,
}

/// A candidate route: hops from our first channel to the payee.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    pub hops: Vec<RouteHop>,
}

/// BOLT 7: the fee a channel charges to forward `amount`
/// (`fee_base_msat + amount * fee_proportional_millionths / 1_000_000`, rounded down).
pub fn relay_fee(fee_base_msat: u32, fee_proportional_millionths: u32, amount: Msat) -> Msat {
    let prop = u128::from(amount.0) * u128::from(fee_proportional_millionths) / 1_000_000;
    Msat(u64::from(fee_base_msat).saturating_add(u64::try_from(prop).unwrap_or(u64::MAX)))
}

/// The amounts, expiries and payloads of a route for one payment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoutePlan {
    /// The HTLC on our first channel.
    pub first_amount: Msat,
    pub first_cltv: u32,
    /// Fees paid to the intermediate nodes.
    pub fee: Msat,
    /// One payload per hop, route order.
    pub payloads: Vec<(PublicKey, HopPayload)>,
}

impl Route {
    /// A route from our channel `first` (to the first node of the hint) over
    /// one of an invoice's route hints to `payee`: hint hop `i` describes the
    /// channel from its node to the next hint node (or the payee).
    pub fn from_hint(first: ShortChannelId, hint: &[RouteHintHop], payee: PublicKey) -> Route {
        let mut hops = Vec::with_capacity(hint.len() + 1);
        if let Some(h0) = hint.first() {
            hops.push(RouteHop {
                node_id: h0.node_id,
                short_channel_id: first,
                fee_base_msat: 0,
                fee_proportional_millionths: 0,
                cltv_expiry_delta: 0,
            });
        }
        for (i, h) in hint.iter().enumerate() {
            let to = hint.get(i + 1).map_or(payee, |n| n.node_id);
            hops.push(RouteHop {
                node_id: to,
                short_channel_id: h.short_channel_id,
                fee_base_msat: h.fee_base_msat,
                fee_proportional_millionths: h.fee_proportional_millionths,
                cltv_expiry_delta: h.cltv_expiry_delta,
            });
        }
        Route { hops }
    }

    /// Works backwards from the payee: the final hop gets `amount` with
    /// expiry `final_cltv` and `payment_data`; the node before hop `k`
    /// forwards `amount_k` over hop `k`'s channel and must receive
    /// `amount_k + fee(hop k)` with `cltv_k + hop k's cltv_expiry_delta`.
    /// `None` for an empty route or an overflow.
    pub fn plan(
        &self,
        amount: Msat,
        final_cltv: u32,
        payment_secret: PaymentSecret,
        total: Msat,
        metadata: Option<Vec<u8>>,
    ) -> Option<RoutePlan> {
        let last = self.hops.last()?;
        let mut payloads = vec![(
            last.node_id,
            HopPayload::receive(
                amount,
                final_cltv,
                Some(PaymentData {
                    payment_secret,
                    total_msat: total,
                }),
                metadata,
            ),
        )];
        let (mut amt, mut cltv) = (amount, final_cltv);
        for k in (1..self.hops.len()).rev() {
            let h = &self.hops[k];
            let prev = &self.hops[k - 1];
            payloads.push((
                prev.node_id,
                HopPayload::forward(h.short_channel_id, amt, cltv),
            ));
            let fee = relay_fee(h.fee_base_msat, h.fee_proportional_millionths, amt);
            amt = Msat(amt.0.checked_add(fee.0)?);
            cltv = cltv.checked_add(u32::from(h.cltv_expiry_delta))?;
        }
        payloads.reverse();
        Some(RoutePlan {
            first_amount: amt,
            first_cltv: cltv,
            fee: Msat(amt.0 - amount.0),
            payloads,
        })
    }

    pub fn contains_node(&self, n: &PublicKey) -> bool {
        self.hops.iter().any(|h| h.node_id == *n)
    }

    pub fn contains_channel(&self, s: ShortChannelId) -> bool {
        self.hops.iter().any(|h| h.short_channel_id == s)
    }
}

/// The routes our own channels give `invoice`, best first: straight to the
/// payee over each usable channel with it (largest outbound first), then
/// over each of the invoice's route hints whose first node is the peer of
/// a usable channel of ours. A channel without a short channel id (or
/// alias) yet cannot be named in a route and is skipped.
pub fn candidate_routes(invoice: &Invoice, channels: &[ChannelView]) -> Vec<Route> {
    let mut usable: Vec<&ChannelView> = channels
        .iter()
        .filter(|c| c.usable && !c.scids.is_empty())
        .collect();
    usable.sort_by_key(|c| std::cmp::Reverse(c.outbound));
    let payee = *invoice.payee();
    let mut routes: Vec<Route> = usable
        .iter()
        .filter(|c| c.node_id == payee)
        .map(|c| Route {
            hops: vec![RouteHop {
                node_id: payee,
                short_channel_id: c.scids[0],
                fee_base_msat: 0,
                fee_proportional_millionths: 0,
                cltv_expiry_delta: 0,
            }],
        })
        .collect();
    for hint in invoice.route_hints() {
        let Some(first) = hint.first() else { continue };
        for c in usable.iter().filter(|c| c.node_id == first.node_id) {
            routes.push(Route::from_hint(c.scids[0], hint, payee));
        }
    }
    routes
}

#[cfg(test)]
mod tests {
    use super::*;
    use secp256k1::{SecretKey, SECP256K1};

    fn node(i: u8) -> PublicKey {
        PublicKey::from_secret_key(SECP256K1, &SecretKey::from_slice(&[i; 32]).unwrap())
    }

    fn hop(i: u8, scid: u64, base: u32, prop: u32, delta: u16) -> RouteHop {
        RouteHop {
            node_id: node(i),
            short_channel_id: ShortChannelId(scid),
            fee_base_msat: base,
            fee_proportional_millionths: prop,
            cltv_expiry_delta: delta,
        }
    }

    #[test]
    fn fees_rounded_down() {
        assert_eq!(relay_fee(1000, 100, Msat(1_234_567)), Msat(1123));
        assert_eq!(relay_fee(0, 1, Msat(999_999)), Msat(0));
        assert_eq!(
            relay_fee(u32::MAX, u32::MAX, Msat(u64::MAX)),
            Msat(u64::MAX)
        );
    }

    #[test]
    fn three_hop_plan() {
        // us -> 1 -> 2 -> 3 (payee); the first hop's policy is ignored.
        let r = Route {
            hops: vec![
                hop(1, 10, 999, 999, 99),
                hop(2, 20, 1000, 100, 40),
                hop(3, 30, 500, 2000, 144),
            ],
        };
        let s = PaymentSecret([9; 32]);
        let p = r
            .plan(Msat(1_000_000), 1000, s, Msat(1_000_000), None)
            .unwrap();
        // node 2 forwards 1_000_000 over 30: fee 500 + 2000 = 2500, cltv +144.
        // node 1 forwards 1_002_500 over 20: fee 1000 + 100 = 1100, cltv +40.
        assert_eq!(p.first_amount, Msat(1_003_600));
        assert_eq!(p.first_cltv, 1184);
        assert_eq!(p.fee, Msat(3600));
        assert_eq!(
            p.payloads[0],
            (
                node(1),
                HopPayload::forward(ShortChannelId(20), Msat(1_002_500), 1144)
            )
        );
        assert_eq!(
            p.payloads[1],
            (
                node(2),
                HopPayload::forward(ShortChannelId(30), Msat(1_000_000), 1000)
            )
        );
        assert_eq!(p.payloads[2].0, node(3));
        assert_eq!(p.payloads[2].1.amt_to_forward, Some(Msat(1_000_000)));
        assert_eq!(p.payloads[2].1.outgoing_cltv_value, Some(1000));
        assert_eq!(
            p.payloads[2].1.payment_data,
            Some(PaymentData {
                payment_secret: s,
                total_msat: Msat(1_000_000)
            })
        );
    }

    #[test]
    fn hint_route() {
        let hint = vec![
            RouteHintHop {
                node_id: node(2),
                short_channel_id: ShortChannelId(20),
                fee_base_msat: 1,
                fee_proportional_millionths: 2,
                cltv_expiry_delta: 3,
            },
            RouteHintHop {
                node_id: node(3),
                short_channel_id: ShortChannelId(30),
                fee_base_msat: 4,
                fee_proportional_millionths: 5,
                cltv_expiry_delta: 6,
            },
        ];
        let r = Route::from_hint(ShortChannelId(10), &hint, node(4));
        assert_eq!(
            r.hops,
            vec![
                hop(2, 10, 0, 0, 0),
                hop(3, 20, 1, 2, 3),
                hop(4, 30, 4, 5, 6)
            ]
        );
    }
}
