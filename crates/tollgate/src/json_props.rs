//! Property tests: [`pick`] accepts and refuses exactly what [`parse_object`] does, and the
//! members it picks are the ones `parse_object` reads.
//!
//! The generated texts aim at the places where the two could part: duplicate names at any
//! depth (also one plain and one escaped, `"a"` and `"\u0061"`), objects of more than 16
//! members (where `Seen` turns into a hash set), nesting around [`MAX_DEPTH`], numbers out
//! of range (`1e400`), invalid UTF-8 and lone surrogates, and whole texts that are not one
//! object (a BOM, trailing data, truncation, another JSON value, a stray byte).

use crate::json::{MAX_DEPTH, Member, parse_object, pick};
use proptest::array::{uniform2, uniform11};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::{Index, select, subsequence};
use proptest::test_runner::Config;

/// Member names. Enough of them that an object of distinct names passes 16 members even
/// when 11 of them are picked; `roles`, `realm_access` and `scope` as the verifier picks
/// them; non-ASCII and empty names.
const NAMES: [&str; 36] = [
    "a",
    "b",
    "alg",
    "kid",
    "crit",
    "typ",
    "iss",
    "sub",
    "aud",
    "exp",
    "nbf",
    "iat",
    "jti",
    "scope",
    "scp",
    "roles",
    "realm_access",
    "realm_access.roles",
    "",
    "é",
    "a b",
    "m0",
    "m1",
    "m2",
    "m3",
    "m4",
    "m5",
    "m6",
    "m7",
    "m8",
    "m9",
    "m10",
    "m11",
    "m12",
    "m13",
    "m14",
];

/// Names that never occur in a generated object, picked besides [`NAMES`].
const ABSENT: [&str; 3] = ["zz", "A", "\u{0}"];

/// Valid scalar JSON texts: numbers at and past the edges of `u64` and `i64` (read as
/// `f64`), underflowing exponents, strings with escapes and surrogate pairs.
const VALID_LEAVES: [&[u8]; 29] = [
    b"null",
    b"true",
    b"false",
    b"0",
    b"-0",
    b"1",
    b"-1",
    b"1.5",
    b"-0.0",
    b"1E2",
    b"1e-400",
    b"0e400",
    b"1.7976931348623157e308",
    b"18446744073709551615",
    b"18446744073709551616",
    b"-9223372036854775808",
    b"-9223372036854775809",
    b"123456789012345678901234567890",
    br#""""#,
    br#""x""#,
    br#""admin""#,
    br#""a b""#,
    "\"é\"".as_bytes(),
    br#""\u00e9""#,
    br#""\u0061""#,
    br#""\"\\\/\b\f\n\r\t""#,
    br#""\ud83d\ude00""#,
    b"[]",
    b"{}",
];

/// Scalar texts that are not valid JSON, or that `parse_object` refuses: numbers out of
/// range, lone surrogates, bad escapes, raw control characters, invalid UTF-8.
const INVALID_LEAVES: [&[u8]; 17] = [
    b"1e400",
    b"-1e400",
    b"2.5e308",
    b"01",
    b"1.",
    b"NaN",
    b"Infinity",
    b"nul",
    br#""\ud800""#,
    br#""\udc00x""#,
    br#""\x""#,
    b"\"\xff\"",
    b"\"\xc3\"",
    b"\"\xed\xa0\x80\"",
    b"\"\x01\"",
    b"\"tab\there\"",
    b"\"\xf4\x90\x80\x80\"",
];

/// A JSON text in the making: leaves are kept as bytes so that invalid ones can be written.
#[derive(Debug, Clone)]
enum Json {
    Leaf(&'static [u8]),
    Array(Vec<Json>),
    /// Members as (the name as written between the quotes, the value).
    Object(Vec<(Vec<u8>, Json)>),
}

impl Json {
    fn write(&self, out: &mut Vec<u8>) {
        match self {
            Json::Leaf(bytes) => out.extend_from_slice(bytes),
            Json::Array(items) => {
                out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    item.write(out);
                }
                out.push(b']');
            }
            Json::Object(members) => {
                out.push(b'{');
                for (i, (name, value)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    out.push(b'"');
                    out.extend_from_slice(name);
                    out.extend_from_slice(b"\":");
                    value.write(out);
                }
                out.push(b'}');
            }
        }
    }

    fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write(&mut out);
        out
    }
}

/// How a member name is written: the same name can be spelt several ways, which must all
/// count as one name.
#[derive(Debug, Clone, Copy)]
enum Spelling {
    Plain,
    /// The first character as `\uXXXX` (`"\u0061"` for `"a"`).
    FirstEscaped,
    /// Every character as `\uXXXX`.
    AllEscaped,
    /// The name followed by a lone surrogate escape: never valid.
    LoneSurrogate,
    /// The name followed by a byte that is not UTF-8: never valid.
    InvalidUtf8,
}

fn spelling() -> impl Strategy<Value = Spelling> {
    prop_oneof![
        40 => Just(Spelling::Plain),
        12 => Just(Spelling::FirstEscaped),
        6 => Just(Spelling::AllEscaped),
        1 => Just(Spelling::LoneSurrogate),
        1 => Just(Spelling::InvalidUtf8),
    ]
}

fn spell(name: &str, spelling: Spelling) -> Vec<u8> {
    let escape = |c: char, out: &mut Vec<u8>| {
        let mut units = [0u16; 2];
        for unit in c.encode_utf16(&mut units) {
            out.extend_from_slice(format!("\\u{unit:04x}").as_bytes());
        }
    };
    let mut out = Vec::new();
    match spelling {
        Spelling::Plain => out.extend_from_slice(name.as_bytes()),
        Spelling::FirstEscaped => {
            let mut chars = name.chars();
            if let Some(first) = chars.next() {
                escape(first, &mut out);
            }
            out.extend_from_slice(chars.as_str().as_bytes());
        }
        Spelling::AllEscaped => name.chars().for_each(|c| escape(c, &mut out)),
        Spelling::LoneSurrogate => {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b"\\ud800");
        }
        Spelling::InvalidUtf8 => {
            out.extend_from_slice(name.as_bytes());
            out.push(0xff);
        }
    }
    out
}

/// A scalar: a valid one `valid` times out of `valid + 1`.
fn leaf_valid_odds(valid: u32) -> impl Strategy<Value = Json> {
    prop_oneof![
        valid => select(&VALID_LEAVES[..]),
        1 => select(&INVALID_LEAVES[..]),
    ]
    .prop_map(Json::Leaf)
}

fn leaf() -> impl Strategy<Value = Json> {
    leaf_valid_odds(40)
}

/// A member: a name from a small set (so that duplicates are common), spelt some way.
fn member(value: impl Strategy<Value = Json>) -> impl Strategy<Value = (Vec<u8>, Json)> {
    (select(&NAMES[..]), spelling(), value).prop_map(|(name, s, value)| (spell(name, s), value))
}

/// An object of distinct names, up to all of [`NAMES`], in any order; sometimes one name
/// is written a second time (spelt any way) at any position.
fn distinct_object() -> impl Strategy<Value = Json> {
    (
        subsequence(&NAMES[..], 0..=NAMES.len()).prop_shuffle(),
        vec(spelling(), NAMES.len()),
        vec(leaf_valid_odds(400), NAMES.len()),
        option::weighted(0.4, (any::<Index>(), any::<Index>(), spelling(), leaf())),
    )
        .prop_map(|(names, spellings, values, duplicate)| {
            let mut members: Vec<(Vec<u8>, Json)> = names
                .iter()
                .zip(spellings)
                .zip(values)
                .map(|((name, s), value)| {
                    // Valid spellings only (the duplicate below may be any): this strategy is
                    // about many members.
                    let s = match s {
                        Spelling::LoneSurrogate | Spelling::InvalidUtf8 => Spelling::Plain,
                        s => s,
                    };
                    (spell(name, s), value)
                })
                .collect();
            if let (Some((which, at, s, value)), false) = (duplicate, names.is_empty()) {
                let name = names[which.index(names.len())];
                let at = at.index(members.len() + 1);
                members.insert(at, (spell(name, s), value));
            }
            Json::Object(members)
        })
}

/// Any JSON value a few levels deep, with small objects of possibly repeated names and
/// large objects of distinct names.
fn value() -> impl Strategy<Value = Json> {
    leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            3 => vec(inner.clone(), 0..6).prop_map(Json::Array),
            3 => vec(member(inner), 0..6).prop_map(Json::Object),
            1 => distinct_object(),
        ]
    })
}

/// One level of a deep chain.
#[derive(Debug, Clone, Copy)]
enum Level {
    /// `[x]`
    Array,
    /// `[1,x]`
    ArraySecond,
    /// `{"a":x}`
    Object,
    /// `{"a":1,"b":x}`
    ObjectSecond,
}

/// A chain of `MAX_DEPTH - 4 ..= MAX_DEPTH + 2` containers around a small value. As the
/// value of a top-level member its containers sit at depths 1 to n, so the chains cross the
/// limit on both sides (an empty `[]` at depth 16 is fine, `[1]` there is not).
fn deep() -> impl Strategy<Value = Json> {
    let levels = vec(
        prop_oneof![
            Just(Level::Array),
            Just(Level::ArraySecond),
            Just(Level::Object),
            Just(Level::ObjectSecond),
        ],
        MAX_DEPTH - 4..=MAX_DEPTH + 2,
    );
    let innermost = prop_oneof![
        leaf(),
        Just(Json::Array(vec![])),
        Just(Json::Object(vec![])),
        vec(member(leaf()), 0..3).prop_map(Json::Object),
    ];
    (levels, innermost).prop_map(|(levels, innermost)| {
        levels
            .into_iter()
            .rev()
            .fold(innermost, |inner, level| match level {
                Level::Array => Json::Array(vec![inner]),
                Level::ArraySecond => Json::Array(vec![Json::Leaf(b"1"), inner]),
                Level::Object => Json::Object(vec![(b"a".to_vec(), inner)]),
                Level::ObjectSecond => Json::Object(vec![
                    (b"a".to_vec(), Json::Leaf(b"1")),
                    (b"b".to_vec(), inner),
                ]),
            })
    })
}

/// Data after the text.
const GARBAGE: [&[u8]; 8] = [b" ", b"\n\t", b"x", b"{}", b"}", b",", b"\xff", b"\0"];
/// Bytes put into the text.
const STRAY: [u8; 10] = [0xff, 0x00, b'"', b',', b':', b'}', b']', b'\\', b'e', b' '];

/// What is done to the text as a whole.
#[derive(Debug, Clone)]
enum Edit {
    None,
    Bom,
    LeadingSpace,
    Trailing(&'static [u8]),
    Truncate(Index),
    Replace(Index, u8),
    Insert(Index, u8),
}

fn edit() -> impl Strategy<Value = Edit> {
    let stray = select(&STRAY[..]);
    prop_oneof![
        20 => Just(Edit::None),
        1 => Just(Edit::Bom),
        1 => Just(Edit::LeadingSpace),
        2 => select(&GARBAGE[..]).prop_map(Edit::Trailing),
        1 => any::<Index>().prop_map(Edit::Truncate),
        1 => (any::<Index>(), stray.clone()).prop_map(|(i, b)| Edit::Replace(i, b)),
        1 => (any::<Index>(), stray).prop_map(|(i, b)| Edit::Insert(i, b)),
    ]
}

fn apply(edit: &Edit, mut text: Vec<u8>) -> Vec<u8> {
    match *edit {
        Edit::None => {}
        Edit::Bom => text = [&b"\xEF\xBB\xBF"[..], &text].concat(),
        Edit::LeadingSpace => text.insert(0, b' '),
        Edit::Trailing(garbage) => text.extend_from_slice(garbage),
        Edit::Truncate(at) => text.truncate(at.index(text.len() + 1)),
        Edit::Replace(at, byte) => {
            if !text.is_empty() {
                let at = at.index(text.len());
                text[at] = byte;
            }
        }
        Edit::Insert(at, byte) => text.insert(at.index(text.len() + 1), byte),
    }
    text
}

/// A generated text; shown as a byte string literal, so that a failing case can be pasted
/// into `fixed_cases`.
#[derive(Clone)]
struct Text(Vec<u8>);

impl std::fmt::Debug for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "b\"{}\"", self.0.escape_ascii())
    }
}

/// A whole text: mostly one object (sometimes with a deep chain as one of its members),
/// sometimes any other value; then maybe edited.
fn document() -> impl Strategy<Value = Text> {
    let top = prop_oneof![
        6 => vec(member(value()), 0..8).prop_map(Json::Object),
        2 => distinct_object(),
        3 => (
            vec(member(value()), 0..4),
            select(&NAMES[..]),
            deep(),
            any::<Index>(),
        )
            .prop_map(|(mut members, name, deep, at)| {
                members.insert(at.index(members.len() + 1), (name.as_bytes().to_vec(), deep));
                Json::Object(members)
            }),
        1 => value(),
    ];
    (top, edit()).prop_map(|(json, edit)| Text(apply(&edit, json.to_bytes())))
}

/// The property: the same verdict, and when both accept, the same picked members.
fn agree<const N: usize>(bytes: &[u8], names: [Option<&str>; N]) -> Result<(), TestCaseError> {
    let full = parse_object(bytes);
    let picked = pick(bytes, names);
    prop_assert_eq!(
        full.is_ok(),
        picked.is_ok(),
        "input b\"{}\", names {:?}: parse_object {:?}, pick {:?}",
        bytes.escape_ascii(),
        names,
        full.as_ref().err(),
        picked.as_ref().err()
    );
    if let (Ok(full), Ok(picked)) = (full, picked) {
        for (name, member) in names.iter().zip(picked) {
            let expected = name.and_then(|name| full.get(name));
            let member = member.map(Member::into_value);
            prop_assert_eq!(
                member.as_ref(),
                expected,
                "input b\"{}\", name {:?}",
                bytes.escape_ascii(),
                name
            );
        }
    }
    Ok(())
}

fn names() -> impl Strategy<Value = Option<&'static str>> {
    let pickable: Vec<&'static str> = NAMES.iter().chain(&ABSENT).copied().collect();
    option::weighted(0.85, select(pickable))
}

proptest! {
    // 512 cases unless PROPTEST_CASES says otherwise. No regression file: a failure
    // prints its input, which belongs in `fixed_cases`.
    #![proptest_config(Config {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|cases| cases.parse().ok())
            .unwrap_or(512),
        failure_persistence: None,
        ..Config::default()
    })]

    /// Few names picked: most members go through `Check` and the `Seen` list.
    #[test]
    fn pick_agrees_picking_few(text in document(), names in uniform2(names())) {
        agree(&text.0, names)?;
    }

    /// As many names as the verifier picks from a claim set, repeats allowed (roles read
    /// from `scope`, say).
    #[test]
    fn pick_agrees_picking_many(text in document(), names in uniform11(names())) {
        agree(&text.0, names)?;
    }
}

/// Cases written out, each aimed at one way the two could part.
#[test]
fn fixed_cases() {
    let seventeen: String = (0..17).map(|i| format!("\"n{i}\":{i},")).collect();
    let deep_ok = format!(
        "{{\"a\":{}{}}}",
        "[".repeat(MAX_DEPTH),
        "]".repeat(MAX_DEPTH)
    );
    let deep_one_more = format!(
        "{{\"a\":{}1{}}}",
        "[".repeat(MAX_DEPTH),
        "]".repeat(MAX_DEPTH)
    );
    let deep_objects = format!(
        "{{\"a\":{}1{}}}",
        "{\"a\":".repeat(MAX_DEPTH - 1),
        "}".repeat(MAX_DEPTH - 1)
    );
    let deep_objects_over = format!(
        "{{\"a\":{}1{}}}",
        "{\"a\":".repeat(MAX_DEPTH),
        "}".repeat(MAX_DEPTH)
    );
    let cases: Vec<Vec<u8>> = vec![
        br#"{"a":1,"\u0061":2}"#.to_vec(),
        br#"{"\u0061":1,"a":2}"#.to_vec(),
        br#"{"x":{"a":1,"\u0061":2}}"#.to_vec(),
        br#"{"a":[{"b":1,"\u0062":2}]}"#.to_vec(),
        br#"{"a":{"b":{"c":[1,{"d":1,"d":1}]}}}"#.to_vec(),
        format!("{{{seventeen}\"n0\":0}}").into_bytes(),
        format!("{{{seventeen}\"\\u006e0\":0}}").into_bytes(),
        format!("{{\"a\":{{{seventeen}\"n16\":0}}}}").into_bytes(),
        format!("{{{seventeen}\"a\":0,\"a\":1}}").into_bytes(),
        format!("{{{}}}", seventeen.trim_end_matches(',')).into_bytes(),
        deep_ok.into_bytes(),
        deep_one_more.into_bytes(),
        deep_objects.into_bytes(),
        deep_objects_over.into_bytes(),
        br#"{"a":1e400}"#.to_vec(),
        br#"{"z":[1,{"y":-1e400}]}"#.to_vec(),
        br#"{"a":[1,2,1e400]}"#.to_vec(),
        br#"{"a":0e400,"b":1e-400}"#.to_vec(),
        b"{\"a\":\"\xff\"}".to_vec(),
        b"{\"z\":[\"\xc3\"]}".to_vec(),
        b"{\"\xff\":1}".to_vec(),
        br#"{"a":"\ud800"}"#.to_vec(),
        br#"{"\ud800":1}"#.to_vec(),
        b"\xEF\xBB\xBF{}".to_vec(),
        b"{} {}".to_vec(),
        b"{}x".to_vec(),
        b" {} \n".to_vec(),
        b"[]".to_vec(),
        b"\"a\"".to_vec(),
        b"null".to_vec(),
        b"".to_vec(),
        br#"{"a":["x","y"],"b":["x",1],"c":[]}"#.to_vec(),
    ];
    for bytes in &cases {
        agree(bytes, [Some("a")]).unwrap();
        agree(
            bytes,
            [Some("a"), Some("b"), Some("a"), None, Some("n0"), Some("c")],
        )
        .unwrap();
        agree(bytes, [None, Some("z"), Some("x")]).unwrap();
    }
}
