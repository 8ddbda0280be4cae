//! Property-based tests (proptest) of every parser and validator of the core: AuthValues,
//! Cyclr dates, connector definitions, URL templates and origins. Each property is one the
//! product promises: no panic on any input, errors that never quote a secret, round trips,
//! and URLs whose host no value can move.

use std::collections::BTreeMap;

use authdesk_core::authvalue::{format_cyclr_datetime, parse_datetime};
use authdesk_core::definition::template::{
    check_public_host_name, SlotKind, SlotValues, UrlTemplate,
};
use authdesk_core::settings::origin_of;
use authdesk_core::{AuthType, AuthValue, ConnectorDefinition, Secret};
use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;

/// A marker that must never appear in an error message.
const CANARY: &str = "CANARYc4n4ry";

fn any_auth_type() -> impl Strategy<Value = AuthType> {
    prop_oneof![
        Just(AuthType::Oauth2),
        Just(AuthType::ApiKey),
        Just(AuthType::AuthFields),
        Just(AuthType::Basic),
        Just(AuthType::None),
    ]
}

/// JSON values where every string carries the canary.
fn canary_json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        "[a-zA-Z0-9:.+ -]{0,24}".prop_map(|s| serde_json::Value::from(format!("{s}{CANARY}"))),
        Just(serde_json::Value::Null),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            prop::collection::btree_map(
                prop_oneof![
                    Just("AccessToken".to_string()),
                    Just("RefreshToken".to_string()),
                    Just("Expires".to_string()),
                    Just("RefreshExpires".to_string()),
                    Just("TokenType".to_string()),
                    Just("Scope".to_string()),
                    "[A-Za-z]{1,12}",
                ],
                inner,
                0..6
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn auth_values_never_panic_and_never_echo(auth_type in any_auth_type(), text in ".{0,300}") {
        let raw = format!("{text}{CANARY}");
        if let Err(e) = AuthValue::parse(auth_type, &Secret::new(raw)) {
            prop_assert!(!e.to_string().contains(CANARY), "{}", e);
        }
    }

    #[test]
    fn auth_value_json_errors_name_fields_not_values(value in canary_json(), as_string in any::<bool>()) {
        let text = if as_string {
            serde_json::Value::from(value.to_string()).to_string()
        } else {
            value.to_string()
        };
        if let Err(e) = AuthValue::parse(AuthType::Oauth2, &Secret::new(text)) {
            prop_assert!(!e.to_string().contains(CANARY), "{}", e);
        }
    }

    #[test]
    fn cyclr_dates_round_trip(seconds in 0i64..4_102_444_800, nanos in 0u32..1_000_000_000) {
        let d: DateTime<Utc> = Utc.timestamp_opt(seconds, nanos).unwrap();
        let text = format_cyclr_datetime(d);
        prop_assert_eq!(text.len(), "2017-12-08T11:02:48.7436471Z".len());
        let back = parse_datetime(&text).unwrap();
        // Seven digits: 100 ns precision.
        prop_assert_eq!(back.timestamp(), d.timestamp());
        prop_assert_eq!(back.timestamp_subsec_nanos(), nanos / 100 * 100);
    }

    #[test]
    fn date_parsing_never_panics_and_keeps_to_seven_digits(text in ".{0,40}") {
        if let Ok(d) = parse_datetime(&text) {
            // Whatever parsed is a real instant that formats and parses back.
            prop_assert!(parse_datetime(&format_cyclr_datetime(d)).is_ok());
        }
    }

    #[test]
    fn date_offsets_are_honoured(
        seconds in 0i64..4_102_444_800,
        offset_minutes in -(14 * 60)..(14 * 60),
        digits in 0usize..8,
    ) {
        let zone = chrono::FixedOffset::east_opt(offset_minutes * 60).unwrap();
        let d = Utc.timestamp_opt(seconds, 0).unwrap().with_timezone(&zone);
        let fraction = if digits == 0 { String::new() } else { format!(".{}", "0".repeat(digits)) };
        let text = format!("{}{fraction}{}", d.format("%Y-%m-%dT%H:%M:%S"), d.format("%:z"));
        let parsed = parse_datetime(&text);
        if digits <= 7 {
            prop_assert_eq!(parsed.unwrap().timestamp(), seconds);
        } else {
            prop_assert!(parsed.is_err());
        }
    }

    #[test]
    fn definitions_never_panic(text in ".{0,400}") {
        let _ = ConnectorDefinition::from_toml("fuzz.toml", &text);
    }

    #[test]
    fn definitions_with_arbitrary_urls_either_load_or_name_the_field(
        base in "[a-z:/{}.@#?%A-Z0-9_-]{0,40}",
        token in "[a-z:/{}.@#?%A-Z0-9_-]{0,40}",
        path in "[a-z/{}.@#?%A-Z0-9_-]{0,20}",
    ) {
        let text = format!(
            "id = \"p\"\nname = \"P\"\nversion = \"1\"\napi_base_url = {base:?}\n\
             [auth]\ntype = \"oauth2\"\ngrant = \"client_credentials\"\ntoken_url = {token:?}\n\
             [[properties]]\nname = \"Host\"\nexample = \"api.example.com\"\n\
             [[methods]]\nid = \"m\"\nname = \"M\"\nhttp_method = \"GET\"\npath = {path:?}\n"
        );
        match ConnectorDefinition::from_toml("p.toml", &text) {
            Ok(d) => {
                // Whatever loads builds its URLs with https (or loopback http) and its host
                // is the template's.
                let t = d.method_url(&d.methods[0]).unwrap();
                if let Ok(url) = t.build(&Fixed(BTreeMap::from([("Host".into(), "api.example.com".into())]))) {
                    prop_assert!(url.scheme() == "https" || url.host_str() == Some("127.0.0.1") || url.host_str() == Some("localhost"));
                    prop_assert!(url.username().is_empty() && url.password().is_none());
                }
            }
            Err(e) => prop_assert!(e.to_string().starts_with("p.toml: "), "{}", e),
        }
    }

    #[test]
    fn no_value_moves_a_whole_host_slot(value in prop_oneof![".{0,60}", "[a-zA-Z0-9.:@/#?%\\\\ -]{0,40}"]) {
        let t = UrlTemplate::parse("https://{Host}/api/v1").unwrap();
        match t.build(&Fixed(BTreeMap::from([("Host".into(), value.clone())]))) {
            Ok(url) => {
                prop_assert!(check_public_host_name(&value).is_ok(), "{:?} was accepted", value);
                prop_assert_eq!(url.host_str().unwrap(), value.to_ascii_lowercase());
                prop_assert_eq!(url.path(), "/api/v1");
                prop_assert_eq!(url.port(), None);
            }
            Err(_) => prop_assert!(check_public_host_name(&value).is_err()),
        }
    }

    #[test]
    fn no_value_moves_a_label_slot(value in prop_oneof![".{0,40}", "[a-zA-Z0-9.:@/#?% -]{0,24}"]) {
        let t = UrlTemplate::parse("https://{Sub}.zendesk.com/api").unwrap();
        if let Ok(url) = t.build(&Fixed(BTreeMap::from([("Sub".into(), value.clone())]))) {
            let host = url.host_str().unwrap();
            prop_assert!(host.ends_with(".zendesk.com"));
            prop_assert_eq!(host.matches('.').count(), 2, "{}", host);
            prop_assert_eq!(url.path(), "/api");
        }
    }

    #[test]
    fn path_and_query_slots_encode_any_value(value in ".{1,60}") {
        let t = UrlTemplate::parse("https://api.example.com/v1/{Id}/items?q={Q}").unwrap();
        let values = Fixed(BTreeMap::from([("Id".into(), value.clone()), ("Q".into(), value.clone())]));
        match t.build(&values) {
            Ok(url) => {
                prop_assert_eq!(url.host_str(), Some("api.example.com"));
                let segments: Vec<&str> = url.path_segments().unwrap().collect();
                prop_assert_eq!(segments.len(), 3, "{}", url);
                let decoded = percent_decode(segments[1]);
                prop_assert_eq!(&decoded, &value);
                let q = url.query_pairs().find(|(k, _)| k == "q").unwrap().1.into_owned();
                prop_assert_eq!(q, value);
            }
            Err(_) => prop_assert!(
                value == "." || value == ".." || value.chars().any(char::is_control),
                "{:?} refused", value
            ),
        }
    }

    #[test]
    fn origins_are_normal_and_idempotent(text in ".{0,60}", tricky in prop_oneof![
        Just("https://partner.example@evil.example/".to_string()),
        Just("HTTPS://Partner.Example:443/x?y#z".to_string()),
        Just("http://127.0.0.1:5173".to_string()),
        Just("javascript:alert(1)".to_string()),
        "(https?|ftp|data|javascript)://[a-zA-Z0-9.@:%/?#-]{0,30}",
    ]) {
        for input in [text, tricky] {
            if let Some(o) = origin_of(&input) {
                prop_assert_eq!(origin_of(&o), Some(o.clone()));
                let url = url::Url::parse(&o).unwrap();
                prop_assert!(matches!(url.scheme(), "http" | "https"));
                prop_assert!(url.username().is_empty() && url.password().is_none());
                prop_assert!(!o.ends_with('/') && !o.contains('?') && !o.contains('#'));
                prop_assert!(!o.contains('@'), "{}", o);
            }
        }
    }
}

struct Fixed(BTreeMap<String, String>);

impl SlotValues for Fixed {
    fn value(&self, name: &str, _kind: SlotKind) -> Option<String> {
        self.0.get(name).cloned()
    }
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}
