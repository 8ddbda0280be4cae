//! A QR code drawn with Unicode half blocks, for a terminal (a phone scans the device
//! sign-in's `verification_uri_complete` from it).
//!
//! Must not: draw when the text does not fit a QR code (it says nothing then).

/// The QR code of `text` as lines of `▀`, `▄`, `█` and spaces (dark on light, with the
/// quiet zone), or `None` when it does not fit.
pub fn terminal(text: &str) -> Option<String> {
    let code = qrcode::QrCode::new(text.as_bytes()).ok()?;
    Some(
        code.render::<qrcode::render::unicode::Dense1x2>()
            .dark_color(qrcode::render::unicode::Dense1x2::Light)
            .light_color(qrcode::render::unicode::Dense1x2::Dark)
            .quiet_zone(true)
            .build(),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_url_is_drawn_in_half_blocks_and_too_much_is_not() {
        let qr = super::terminal("http://127.0.0.1:3000/device?user_code=ABCD-EFGH").unwrap();
        assert!(qr.lines().count() > 10, "{qr}");
        assert!(
            qr.chars()
                .all(|c| matches!(c, '▀' | '▄' | '█' | ' ' | '\n')),
            "{qr}"
        );
        assert!(super::terminal(&"x".repeat(8000)).is_none());
    }
}
