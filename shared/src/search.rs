//! Keyword search: the token rule, the keywords of a query, and the compact token fingerprints kept
//! with every record so a search reads bodies only for likely matches.
//!
//! The rule (README, "Keyword search"): the tokens of a body are the string values and numbers of
//! its JSON (object keys, `true`, `false` and `null` are not), split on every character that is not
//! a letter or a digit, lowercased. Plain texts (messages, error codes) are split the same way. A
//! query's keywords are split by the same rule; a record matches when every resulting token is one
//! of its tokens. A substring of a token is not a token.

use std::collections::BTreeSet;

/// Characters of `q`.
pub const MAX_QUERY_CHARS: usize = 512;
/// Space-separated keywords of `q`.
pub const MAX_KEYWORDS: usize = 10;
/// Fingerprints a record keeps; a record with more distinct tokens keeps a saturated set that
/// every search reads (its bodies are then checked, so results stay exact). 1,200 × 3 bytes keeps a
/// fingerprint item within one 4 KB read unit.
pub const MAX_FINGERPRINTS: usize = 1200;

/// Calls `f` with each token of a plain text.
pub fn text_tokens(text: &str, f: &mut impl FnMut(&str)) {
    for part in text.split(|c: char| !c.is_alphanumeric()) {
        if !part.is_empty() {
            if part.chars().all(|c| !c.is_uppercase()) {
                f(part);
            } else {
                f(&part.to_lowercase());
            }
        }
    }
}

/// Calls `f` with each token of a JSON text: its string values and numbers. The text is valid JSON
/// (ingest checked it); anything unreadable ends the walk early rather than failing.
pub fn json_tokens(json: &[u8], f: &mut impl FnMut(&str)) {
    let mut i = 0;
    let n = json.len();
    while i < n {
        match json[i] {
            b'"' => {
                let (text, end) = read_string(json, i + 1);
                i = end;
                // A string followed by ':' is an object key.
                let mut j = i;
                while j < n && json[j].is_ascii_whitespace() {
                    j += 1;
                }
                if j < n && json[j] == b':' {
                    continue;
                }
                text_tokens(&text, f);
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                while i < n && matches!(json[i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9') {
                    i += 1;
                }
                text_tokens(std::str::from_utf8(&json[start..i]).unwrap_or(""), f);
            }
            _ => i += 1,
        }
    }
}

/// Decodes a JSON string starting after its opening quote; returns it and the index after the
/// closing quote.
fn read_string(json: &[u8], mut i: usize) -> (String, usize) {
    let mut out: Vec<u8> = Vec::new();
    let n = json.len();
    while i < n {
        match json[i] {
            b'"' => return (String::from_utf8_lossy(&out).into_owned(), i + 1),
            b'\\' if i + 1 < n => {
                let c = json[i + 1];
                i += 2;
                let decoded = match c {
                    b'n' | b't' | b'r' | b'b' | b'f' => Some(' '),
                    b'u' => {
                        let unit = |at: usize| {
                            json.get(at..at + 4)
                                .and_then(|h| std::str::from_utf8(h).ok())
                                .and_then(|h| u32::from_str_radix(h, 16).ok())
                        };
                        let first = unit(i);
                        i += 4;
                        let low = |at: usize| {
                            (json.get(at..at + 2) == Some(b"\\u"))
                                .then(|| unit(at + 2))
                                .flatten()
                                .filter(|lo| (0xDC00..=0xDFFF).contains(lo))
                        };
                        match first {
                            Some(hi @ 0xD800..=0xDBFF) => match low(i) {
                                Some(lo) => {
                                    i += 6;
                                    char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))
                                }
                                // A lone surrogate is no character: it separates tokens.
                                None => None,
                            },
                            Some(u) => char::from_u32(u),
                            None => None,
                        }
                    }
                    other => Some(other as char),
                };
                let mut buf = [0u8; 4];
                out.extend_from_slice(decoded.unwrap_or(' ').encode_utf8(&mut buf).as_bytes());
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    (String::from_utf8_lossy(&out).into_owned(), n)
}

/// A token's fingerprint: 24 bits of its 64-bit FNV-1a hash. Stable across releases, since stored
/// fingerprints are compared with those of later queries.
pub fn fingerprint(token: &str) -> u32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in token.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (h >> 40) as u32
}

/// The distinct token fingerprints of a record (and of its steps, for an execution). A superset
/// is harmless (a search checks the bodies of every candidate), so sets only ever grow by union.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fingerprints {
    set: BTreeSet<u32>,
    /// Too many tokens to keep: every search treats the record as a candidate.
    saturated: bool,
}

const SATURATED: u8 = 1;

impl Fingerprints {
    pub fn add_text(&mut self, text: &str) {
        text_tokens(text, &mut |t| self.insert(t));
    }

    pub fn add_json(&mut self, json: &[u8]) {
        json_tokens(json, &mut |t| self.insert(t));
    }

    fn insert(&mut self, token: &str) {
        if !self.saturated {
            self.set.insert(fingerprint(token));
            self.check_size();
        }
    }

    fn check_size(&mut self) {
        if self.set.len() > MAX_FINGERPRINTS {
            self.set.clear();
            self.saturated = true;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.set.is_empty() && !self.saturated
    }

    pub fn union(&mut self, other: &Fingerprints) {
        if other.saturated {
            self.set.clear();
            self.saturated = true;
        } else if !self.saturated {
            self.set.extend(other.set.iter().copied());
            self.check_size();
        }
    }

    /// Whether every fingerprint of `wanted` is here: `false` proves the record does not match.
    pub fn may_contain(&self, wanted: &Keywords) -> bool {
        self.saturated || wanted.fingerprints.iter().all(|f| self.set.contains(f))
    }

    /// A flag byte, then three bytes per fingerprint, ascending.
    pub fn encode(&self) -> Vec<u8> {
        if self.saturated {
            return vec![SATURATED];
        }
        let mut out = Vec::with_capacity(1 + 3 * self.set.len());
        out.push(0);
        for f in &self.set {
            out.extend_from_slice(&f.to_be_bytes()[1..]);
        }
        out
    }

    pub fn decode(bytes: &[u8]) -> Fingerprints {
        match bytes.split_first() {
            Some((&0, rest)) => Fingerprints {
                set: rest
                    .chunks_exact(3)
                    .map(|c| u32::from_be_bytes([0, c[0], c[1], c[2]]))
                    .collect(),
                saturated: false,
            },
            // Unknown layouts read as saturated: never a missed match.
            _ => Fingerprints {
                set: BTreeSet::new(),
                saturated: true,
            },
        }
    }
}

/// The tokens a search asks for, from `q`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Keywords {
    /// The query as given (trimmed), for links and fingerprints.
    pub text: String,
    pub tokens: BTreeSet<String>,
    fingerprints: Vec<u32>,
}

impl Keywords {
    /// Parses `q`; the error says which rule it breaks.
    pub fn parse(q: &str) -> Result<Keywords, String> {
        let text = q.trim();
        if text.is_empty() || text.chars().count() > MAX_QUERY_CHARS {
            return Err(format!("q must be 1 to {MAX_QUERY_CHARS} characters"));
        }
        let words: Vec<&str> = text.split_whitespace().collect();
        if words.len() > MAX_KEYWORDS {
            return Err(format!("q takes at most {MAX_KEYWORDS} space-separated keywords"));
        }
        let mut tokens = BTreeSet::new();
        for word in &words {
            let before = tokens.len();
            text_tokens(word, &mut |t| {
                tokens.insert(t.to_string());
            });
            if tokens.len() == before && !word.chars().any(char::is_alphanumeric) {
                return Err(format!(
                    "keyword {word:?} has no letter or digit, so it can never match"
                ));
            }
        }
        let fingerprints = tokens.iter().map(|t| fingerprint(t)).collect();
        Ok(Keywords {
            text: words.join(" "),
            tokens,
            fingerprints,
        })
    }

    /// Whether `found` (a record's tokens, gathered so far) holds every wanted token.
    pub fn all_in(&self, found: &BTreeSet<String>) -> bool {
        self.tokens.iter().all(|t| found.contains(t))
    }
}

/// Collects the wanted tokens found in a record's texts and bodies; stops caring once all are in.
#[derive(Debug)]
pub struct Matcher<'a> {
    wanted: &'a Keywords,
    found: BTreeSet<String>,
}

impl<'a> Matcher<'a> {
    pub fn new(wanted: &'a Keywords) -> Self {
        Matcher {
            wanted,
            found: BTreeSet::new(),
        }
    }

    fn note(&mut self, token: &str) {
        if self.wanted.tokens.contains(token) && !self.found.contains(token) {
            self.found.insert(token.to_string());
        }
    }

    pub fn text(&mut self, text: &str) {
        if !self.done() {
            let mut seen = Vec::new();
            text_tokens(text, &mut |t| seen.push(t.to_string()));
            seen.iter().for_each(|t| self.note(t));
        }
    }

    pub fn json(&mut self, json: &[u8]) {
        if !self.done() {
            let mut seen = Vec::new();
            json_tokens(json, &mut |t| {
                if self.wanted.tokens.contains(t) {
                    seen.push(t.to_string())
                }
            });
            seen.iter().for_each(|t| self.note(t));
        }
    }

    pub fn done(&self) -> bool {
        self.wanted.all_in(&self.found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(json: &str) -> Vec<String> {
        let mut out = Vec::new();
        json_tokens(json.as_bytes(), &mut |t| out.push(t.to_string()));
        out
    }

    #[test]
    fn json_tokens_are_values_and_numbers_split_and_lowercased() {
        assert_eq!(
            tokens(r#"{"Lead-Id": "00Q5g000004XyZ", "n": 1.50, "ok": true, "tags": ["a b", "ÄRGER"], "x": null}"#),
            ["00q5g000004xyz", "1", "50", "a", "b", "ärger"]
        );
        assert_eq!(
            tokens(r#""say \"hi\"\nthere \u00e9t\u00e9""#),
            ["say", "hi", "there", "été"]
        );
        assert_eq!(tokens(r#"{"k" : "v"}"#), ["v"], "keys are never tokens, however spaced");
        assert_eq!(tokens(r#""\ud83d\ude00 smile""#), ["smile"]);
        assert_eq!(
            tokens(r#""x\ud83d\u0041bc""#),
            ["x", "abc"],
            "a lone surrogate separates"
        );
        assert_eq!(tokens("-3e5"), ["3e5"]);
    }

    #[test]
    fn keywords_are_split_by_the_same_rule_and_validated() {
        let k = Keywords::parse("  00Q5g000004XyZ   acme-corp ").unwrap();
        assert_eq!(
            k.tokens.iter().map(String::as_str).collect::<Vec<_>>(),
            ["00q5g000004xyz", "acme", "corp"]
        );
        assert_eq!(k.text, "00Q5g000004XyZ acme-corp");
        assert!(Keywords::parse("").is_err());
        assert!(Keywords::parse("a b c d e f g h i j k").is_err());
        assert!(Keywords::parse("ok ---").is_err());
        assert!(Keywords::parse(&"x".repeat(513)).is_err());
    }

    #[test]
    fn fingerprints_prune_without_missing_and_round_trip() {
        let mut f = Fingerprints::default();
        f.add_json(br#"{"id": "00Q5g000004XyZ", "owner": "Acme Corp"}"#);
        f.add_text("Webhook received");
        let has = |q: &str| f.may_contain(&Keywords::parse(q).unwrap());
        assert!(has("00q5g000004xyz acme"));
        assert!(has("WEBHOOK"));
        assert!(!has("XyZ"), "a substring is not a token");
        assert!(!has("acme missing"));
        let back = Fingerprints::decode(&f.encode());
        assert_eq!(back, f);
        let mut big = Fingerprints::default();
        for i in 0..=MAX_FINGERPRINTS {
            big.add_text(&format!("t{i}"));
        }
        assert_eq!(big.encode(), [SATURATED]);
        assert!(big.may_contain(&Keywords::parse("anything").unwrap()));
        let mut u = f.clone();
        u.union(&big);
        assert_eq!(u, big);
    }

    #[test]
    fn matcher_needs_every_token() {
        let k = Keywords::parse("acme 42").unwrap();
        let mut m = Matcher::new(&k);
        m.json(br#"{"acme": "no"}"#);
        assert!(!m.done());
        m.text("ACME");
        m.json(b"[42]");
        assert!(m.done());
    }
}
