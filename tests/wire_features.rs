//! BOLT 9 feature bits: set operations, wire form, contexts, dependencies,
//! and the `init` acceptance check.

#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

use lnwasm::channel::ChannelConfig;
use lnwasm::error::ErrorCode;
use lnwasm::util::{from_hex, to_hex};
use lnwasm::wire::{
    check_peer_init, lnwasm_init_features, Feature, FeatureContext, FeatureError, Features, Init,
    Message, WireMessage,
};

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn bits_and_wire_form() {
    let mut f = Features::empty();
    assert!(f.is_empty());
    assert_eq!(f.to_wire_bytes(), Vec::<u8>::new());
    f.set_bit(0);
    f.set_bit(9);
    assert_eq!(to_hex(&f.to_wire_bytes()), "0201");
    assert!(f.has_bit(0) && f.has_bit(9) && !f.has_bit(1) && !f.has_bit(1000));
    assert_eq!(f.bits().collect::<Vec<_>>(), vec![0, 9]);
    f.clear_bit(9);
    assert_eq!(to_hex(&f.to_wire_bytes()), "01");
    f.clear_bit(0);
    assert!(f.is_empty());
    // Leading zero bytes are accepted and dropped.
    let g = Features::from_wire_bytes(&from_hex("000080").unwrap());
    assert_eq!(g.bits().collect::<Vec<_>>(), vec![7]);
    assert_eq!(g.to_wire_bytes(), vec![0x80]);
    assert_eq!(g, Features::from_bits(&[7]));
    // Union / intersection.
    let a = Features::from_bits(&[1, 8, 100]);
    let b = Features::from_bits(&[8, 9]);
    assert_eq!((&a | &b).bits().collect::<Vec<_>>(), vec![1, 8, 9, 100]);
    assert_eq!((&a & &b).bits().collect::<Vec<_>>(), vec![8]);
    assert_eq!((&b & &Features::from_bits(&[100])), Features::empty());
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn required_and_optional() {
    let mut f = Features::empty();
    f.set_optional(Feature::BasicMpp);
    assert!(f.supports(Feature::BasicMpp) && !f.requires(Feature::BasicMpp));
    f.set_required(Feature::BasicMpp);
    assert!(f.requires(Feature::BasicMpp) && !f.has_bit(17));
    // Both bits set: treated as required.
    let both = Features::from_bits(&[16, 17]);
    assert!(both.requires(Feature::BasicMpp));
    f.clear(Feature::BasicMpp);
    assert!(!f.supports(Feature::BasicMpp));
    assert_eq!(Feature::from_bit(23), Some(Feature::AnchorsZeroFeeHtlcTx));
    assert_eq!(Feature::from_bit(22), Some(Feature::AnchorsZeroFeeHtlcTx));
    assert_eq!(Feature::from_bit(100), None);
    assert_eq!(Feature::ChannelType.required_bit(), 44);
    assert_eq!(Feature::ZeroConf.optional_bit(), 51);
    assert_eq!(
        Feature::StaticRemoteKey.to_string(),
        "option_static_remotekey"
    );
    // Every known feature's bits are distinct and ascending.
    let bits: Vec<usize> = Feature::ALL.iter().map(|f| f.required_bit()).collect();
    assert!(bits.windows(2).all(|w| w[0] < w[1]));
    assert!(bits.iter().all(|b| b % 2 == 0));
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn lnwasm_advertised_set() {
    let f = lnwasm_init_features();
    for r in [
        Feature::DataLossProtect,
        Feature::VarOnionOptin,
        Feature::StaticRemoteKey,
        Feature::PaymentSecret,
        Feature::ChannelType,
    ] {
        assert!(f.requires(r), "{r}");
    }
    for o in [
        Feature::BasicMpp,
        Feature::ShutdownAnySegwit,
        Feature::ScidAlias,
        Feature::ZeroConf,
    ] {
        assert!(f.supports(o) && !f.requires(o), "{o}");
    }
    // Anchors only with a configuration that negotiates them.
    assert!(!f.supports(Feature::AnchorsZeroFeeHtlcTx));
    assert_eq!(f.bits().count(), 9);
    // bits 0, 8, 12, 14, 17, 27, 44, 47, 51
    assert_eq!(to_hex(&f.to_wire_bytes()), "08900008025101");
    let mut config = ChannelConfig::new(bitcoin::constants::ChainHash::BITCOIN);
    assert_eq!(config.init_features(), f);
    config.anchors = true;
    let with_anchors = config.init_features();
    assert!(with_anchors.supports(Feature::AnchorsZeroFeeHtlcTx));
    assert!(!with_anchors.requires(Feature::AnchorsZeroFeeHtlcTx));
    // bits 0, 8, 12, 14, 17, 23, 27, 44, 47, 51
    assert_eq!(to_hex(&with_anchors.to_wire_bytes()), "08900008825101");
}

fn peer(bits: &[usize]) -> Features {
    Features::from_bits(bits)
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn init_acceptance() {
    let local = lnwasm_init_features();
    // Typical LND: 0,5,7,8(req)... with channel_type optional and keysend (bit 55, unknown odd).
    let lnd = peer(&[0, 5, 7, 8, 11, 12, 14, 17, 19, 23, 27, 45, 47, 55]);
    assert_eq!(check_peer_init(&local, &lnd), Ok(()));
    // Core Lightning-like: more required bits, plus newer optional ones
    // (anchors among them, optional as Core Lightning sets it).
    let cln = peer(&[
        1, 5, 7, 8, 11, 12, 14, 17, 19, 23, 27, 35, 39, 44, 47, 51, 61, 63,
    ]);
    assert_eq!(check_peer_init(&local, &cln), Ok(()));
    // Peer lacking payment_secret entirely.
    let old = peer(&[1, 8, 12, 44]);
    let err = check_peer_init(&local, &old).unwrap_err();
    assert_eq!(err, FeatureError::MissingRequired(Feature::PaymentSecret));
    assert_eq!(err.code(), "PEER_LACKS_REQUIRED_FEATURE");
    assert!(err.to_string().contains("payment_secret"), "{err}");
    // Optional support is enough for what we require.
    assert_eq!(check_peer_init(&local, &peer(&[1, 9, 13, 15, 45])), Ok(()));
    // Peer requiring an unknown even bit.
    let err = check_peer_init(&local, &peer(&[0, 8, 12, 14, 44, 200])).unwrap_err();
    assert_eq!(
        err,
        FeatureError::UnsupportedRequired {
            bit: 200,
            feature: None
        }
    );
    assert_eq!(err.code(), "PEER_REQUIRES_UNSUPPORTED_FEATURE");
    assert!(err.to_string().contains("200"));
    // Peer requiring a known feature lnwasm does not offer (dual funding).
    let err = check_peer_init(&local, &peer(&[0, 8, 12, 14, 28, 44])).unwrap_err();
    assert_eq!(
        err,
        FeatureError::UnsupportedRequired {
            bit: 28,
            feature: Some(Feature::DualFund)
        }
    );
    assert!(err.to_string().contains("option_dual_fund"));
    // Peer requiring something we only offer optionally is fine.
    assert_eq!(
        check_peer_init(&local, &peer(&[0, 8, 12, 14, 26, 44])),
        Ok(())
    );
    // A peer requiring anchors is refused, unless we negotiate them.
    let anchors_only = peer(&[0, 8, 12, 14, 22, 44]);
    assert_eq!(
        check_peer_init(&local, &anchors_only),
        Err(FeatureError::UnsupportedRequired {
            bit: 22,
            feature: Some(Feature::AnchorsZeroFeeHtlcTx)
        })
    );
    let mut config = ChannelConfig::new(bitcoin::constants::ChainHash::BITCOIN);
    config.anchors = true;
    assert_eq!(
        check_peer_init(&config.init_features(), &anchors_only),
        Ok(())
    );
    // Unknown odd bits are ignored.
    assert_eq!(
        check_peer_init(&local, &peer(&[0, 8, 12, 14, 44, 201, 1001])),
        Ok(())
    );
    // Dependency missing in the peer's vector: basic_mpp without payment_secret.
    let err = check_peer_init(&Features::empty(), &peer(&[17])).unwrap_err();
    assert_eq!(
        err,
        FeatureError::MissingDependency {
            feature: Feature::BasicMpp,
            needs: Feature::PaymentSecret
        }
    );
    assert_eq!(err.code(), "FEATURE_MISSING_DEPENDENCY");
    // zeroconf needs scid_alias.
    let err = check_peer_init(&local, &peer(&[0, 8, 12, 14, 44, 51])).unwrap_err();
    assert_eq!(
        err,
        FeatureError::MissingDependency {
            feature: Feature::ZeroConf,
            needs: Feature::ScidAlias
        }
    );
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn contexts() {
    let f = lnwasm_init_features();
    assert_eq!(f.validate(FeatureContext::Init), Ok(()));
    assert_eq!(f.validate(FeatureContext::Node), Ok(()));
    // channel_type is not an invoice feature.
    assert!(matches!(
        f.validate(FeatureContext::Invoice),
        Err(FeatureError::NotInContext { .. })
    ));
    let mut ct = Features::empty();
    ct.set_required(Feature::AnchorsZeroFeeHtlcTx)
        .set_required(Feature::ScidAlias);
    assert_eq!(ct.validate(FeatureContext::ChannelType), Ok(()));
    ct.set_required(Feature::BasicMpp);
    let err = ct.validate(FeatureContext::ChannelType).unwrap_err();
    assert_eq!(
        err,
        FeatureError::NotInContext {
            feature: Feature::BasicMpp,
            context: FeatureContext::ChannelType
        }
    );
    assert_eq!(err.code(), "FEATURE_NOT_IN_CONTEXT");
    let mut inv = Features::empty();
    inv.set_required(Feature::VarOnionOptin)
        .set_required(Feature::PaymentSecret)
        .set_optional(Feature::BasicMpp);
    inv.set_optional(Feature::PaymentMetadata);
    assert_eq!(inv.validate(FeatureContext::Invoice), Ok(()));
    assert!(inv.validate(FeatureContext::Init).is_err());
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn init_message_carries_features() {
    let init = Init::new(lnwasm_init_features());
    let bytes = init.encode().unwrap();
    // type 16, gflen 0, flen 7, features
    assert_eq!(to_hex(&bytes[..6]), "001000000007");
    let Message::Init(back) = Message::decode(&bytes).unwrap() else {
        panic!()
    };
    assert_eq!(back.combined_features(), lnwasm_init_features());
    // Legacy global features are merged.
    let mut legacy = Init::new(Features::from_bits(&[8, 12, 14, 44]));
    legacy.global_features = Features::from_bits(&[1]);
    assert_eq!(
        check_peer_init(&lnwasm_init_features(), &legacy.combined_features()),
        Ok(())
    );
    assert_eq!(
        check_peer_init(&lnwasm_init_features(), &legacy.features),
        Err(FeatureError::MissingRequired(Feature::DataLossProtect))
    );
    assert!(back.supports_chain(&bitcoin::constants::ChainHash::BITCOIN));
    let display = lnwasm_init_features().to_string();
    assert!(
        display.contains("payment_secret(required)")
            && display.contains("option_zeroconf(optional)"),
        "{display}"
    );
    assert!(Features::from_bits(&[333]).to_string().contains("bit 333"));
}
