//! Property-based tests (proptest) of the API's own validator: the `Host` check that stops
//! DNS rebinding. It must accept exactly this server's three loopback names with its port,
//! in any letter case, and nothing else.

use authdesk_api::host_allowed;
use proptest::prelude::*;

/// The reference: the only hosts a browser on this machine uses for the local API.
fn expected(host: &str, port: u16) -> bool {
    let lower = host.to_ascii_lowercase();
    [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
    ]
    .contains(&lower)
}

fn near_misses(port: u16) -> impl Strategy<Value = String> {
    prop_oneof![
        Just(format!("127.0.0.1:{port}")),
        Just(format!("LocalHost:{port}")),
        Just(format!("[::1]:{port}")),
        Just(format!("127.0.0.1.evil.com:{port}")),
        Just(format!("evil.com:{port}")),
        Just(format!("localhost.:{port}")),
        Just(format!("localhost:0{port}")),
        Just(format!("localhost:+{port}")),
        Just(format!("127.0.0.1:{port} ")),
        Just(format!(" 127.0.0.1:{port}")),
        Just(format!("user@127.0.0.1:{port}")),
        Just(format!("127.0.0.1:{port}/x")),
        Just("127.0.0.1".to_string()),
        Just(format!("127.1:{port}")),
        Just(format!("0x7f.0.0.1:{port}")),
        Just(format!("[::ffff:127.0.0.1]:{port}")),
        Just(format!("127.0.0.1:{}", port.wrapping_add(1))),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn the_host_check_accepts_exactly_the_loopback_names(port in 1u16.., host in ".{0,40}") {
        prop_assert_eq!(host_allowed(Some(&host), port), expected(&host, port), "{:?}", host);
    }

    #[test]
    fn near_misses_are_refused((port, host) in (1u16.., any::<u16>()).prop_flat_map(|(p, _)| (Just(p), near_misses(p)))) {
        prop_assert_eq!(host_allowed(Some(&host), port), expected(&host, port), "{:?}", host);
    }

    #[test]
    fn letter_case_does_not_matter(port in 1u16.., upper in any::<bool>()) {
        let host = if upper { format!("LOCALHOST:{port}") } else { format!("localhost:{port}") };
        prop_assert!(host_allowed(Some(&host), port));
        prop_assert!(!host_allowed(None, port));
    }
}
