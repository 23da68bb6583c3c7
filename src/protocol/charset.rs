//! Text in a client's character set, decoded for display and for names.

/// Decodes `bytes` written in the MySQL character set `charset`. UTF-8
/// sets and ASCII must be valid UTF-8; MySQL's `latin1` is Windows-1252.
/// `None` for invalid bytes or a character set not handled here (the
/// caller refuses or shows the bytes escaped).
pub fn decode(bytes: &[u8], charset: &str) -> Option<String> {
    match charset.to_ascii_lowercase().as_str() {
        "utf8" | "utf8mb3" | "utf8mb4" | "binary" => {
            std::str::from_utf8(bytes).ok().map(str::to_string)
        }
        "ascii" => bytes
            .is_ascii()
            .then(|| String::from_utf8_lossy(bytes).into_owned()),
        "latin1" => Some(bytes.iter().map(|b| cp1252(*b)).collect()),
        _ => None,
    }
}

/// For display only: invalid or unknown bytes become U+FFFD.
pub fn decode_text(bytes: &[u8], charset: &str) -> String {
    decode(bytes, charset).unwrap_or_else(|| String::from_utf8_lossy(bytes).into_owned())
}

/// Encodes `text` into `charset` (the inverse of `decode`); `None` when a
/// character has no encoding there.
pub fn encode(text: &str, charset: &str) -> Option<Vec<u8>> {
    match charset.to_ascii_lowercase().as_str() {
        "utf8" | "utf8mb3" | "utf8mb4" | "binary" => Some(text.as_bytes().to_vec()),
        "ascii" => text.is_ascii().then(|| text.as_bytes().to_vec()),
        "latin1" => text
            .chars()
            .map(|c| (0..=255u8).find(|b| cp1252(*b) == c))
            .collect(),
        _ => None,
    }
}

/// MySQL's latin1 is Windows-1252, with the five bytes Windows leaves
/// undefined mapped to the C1 controls of the same value.
fn cp1252(b: u8) -> char {
    const HIGH: [char; 32] = [
        '\u{20AC}', '\u{81}', '\u{201A}', '\u{192}', '\u{201E}', '\u{2026}', '\u{2020}',
        '\u{2021}', '\u{2C6}', '\u{2030}', '\u{160}', '\u{2039}', '\u{152}', '\u{8D}', '\u{17D}',
        '\u{8F}', '\u{90}', '\u{2018}', '\u{2019}', '\u{201C}', '\u{201D}', '\u{2022}', '\u{2013}',
        '\u{2014}', '\u{2DC}', '\u{2122}', '\u{161}', '\u{203A}', '\u{153}', '\u{9D}', '\u{17E}',
        '\u{178}',
    ];
    match b {
        0x80..=0x9F => HIGH[(b - 0x80) as usize],
        _ => b as char,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin1_is_windows_1252() {
        assert_eq!(decode(b"Malm\xf6", "latin1").as_deref(), Some("Malmö"));
        assert_eq!(decode(b"\x80", "latin1").as_deref(), Some("€"));
        assert_eq!(encode("été", "latin1"), Some(b"\xe9t\xe9".to_vec()));
        assert_eq!(encode("☃", "latin1"), None);
        assert_eq!(decode(b"\xff\xfe", "utf8mb4"), None);
        assert_eq!(decode(b"x", "sjis"), None);
    }
}
