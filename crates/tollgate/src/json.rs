//! Strict JSON for JOSE headers and claim sets.
//!
//! `serde_json::Value` silently keeps the last of two members with the same name, so
//! `{"alg":"none","alg":"RS256"}` would read differently here than in another parser
//! (RFC 8725 §2.7). This parser refuses duplicate names and limits nesting depth. Its
//! input is already bounded by the verifier's maximum token length.

use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

/// Deepest nesting accepted inside a header or claim set. Real tokens use two or three
/// levels (`realm_access.roles`); anything deeper is an attack on the parser.
pub(crate) const MAX_DEPTH: usize = 16;

/// Parses `bytes` as one JSON object, refusing duplicate member names at any depth,
/// nesting deeper than [`MAX_DEPTH`], non-finite numbers and a leading byte-order mark.
/// Verification reads tokens with [`pick`]; this whole-object form is the reference the
/// tests hold `pick` to.
#[cfg(test)]
pub(crate) fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = StrictSeed { depth: 0 }.deserialize(&mut de)?;
    de.end()?;
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(de::Error::custom("not a JSON object")),
    }
}

/// Checks that `bytes` is one JSON object under the rules of [`parse_object`] and returns
/// the members named in `names` (slot `i` holds the member `names[i]`, when present).
/// Every other member is checked without being built; strings are borrowed from `bytes`
/// when they hold no escapes.
pub(crate) fn pick<'a, const N: usize>(
    bytes: &'a [u8],
    names: [Option<&str>; N],
) -> Result<[Option<Member<'a>>; N], serde_json::Error> {
    let text = std::str::from_utf8(bytes).map_err(de::Error::custom)?;
    pick_str(text, names)
}

/// [`pick`] on text already known to be UTF-8 (so serde_json does not check it again).
pub(crate) fn pick_str<'a, const N: usize>(
    text: &'a str,
    names: [Option<&str>; N],
) -> Result<[Option<Member<'a>>; N], serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(text);
    let picked = de.deserialize_any(Pick { names })?;
    de.end()?;
    Ok(picked)
}

/// A member picked by [`pick`]: a string (borrowed when it can be), an array of strings
/// only (roles, scopes, audiences; each borrowed when it can be), or any other value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Member<'a> {
    Str(Cow<'a, str>),
    Strs(Vec<Cow<'a, str>>),
    Other(Value),
}

impl Member<'_> {
    /// The member as a [`Value`], owning its data.
    pub(crate) fn into_value(self) -> Value {
        match self {
            Member::Str(s) => Value::String(s.into_owned()),
            Member::Strs(items) => Value::Array(
                items
                    .into_iter()
                    .map(|s| Value::String(s.into_owned()))
                    .collect(),
            ),
            Member::Other(v) => v,
        }
    }

    /// The string, if the member is one.
    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Member::Str(s) => Some(s),
            Member::Other(Value::String(s)) => Some(s),
            Member::Strs(_) | Member::Other(_) => None,
        }
    }
}

impl From<Value> for Member<'_> {
    fn from(value: Value) -> Self {
        Member::Other(value)
    }
}

struct Pick<'n, const N: usize> {
    names: [Option<&'n str>; N],
}

impl<'de, const N: usize> Visitor<'de> for Pick<'_, N> {
    type Value = [Option<Member<'de>>; N];

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
        let mut picked: [Option<Member<'de>>; N] = std::array::from_fn(|_| None);
        // Names that are not picked; a picked one is a duplicate if its slot is taken.
        let mut seen = Seen::default();
        while let Some(Name(name)) = access.next_key()? {
            let Some(first) = self
                .names
                .iter()
                .position(|n| n.is_some_and(|n| same(n, &name)))
            else {
                if !seen.insert(name) {
                    return Err(de::Error::custom("duplicate member name"));
                }
                access.next_value_seed(Check { depth: 1 })?;
                continue;
            };
            if picked[first].is_some() {
                return Err(de::Error::custom("duplicate member name"));
            }
            let value = access.next_value_seed(MemberSeed { depth: 1 })?;
            // A name may be wanted twice (say, roles read from `scope`): each slot gets it.
            for (slot, n) in picked.iter_mut().zip(self.names).skip(first + 1) {
                if n.is_some_and(|n| same(n, &name)) {
                    *slot = Some(value.clone());
                }
            }
            picked[first] = Some(value);
        }
        Ok(picked)
    }
}

/// `a == b`, compared inline: member names are a few bytes long, shorter than a call to
/// `memcmp` is worth.
#[inline]
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).all(|(x, y)| x == y)
}

/// Reads a picked member (or an element of a picked array) under the rules of
/// [`StrictSeed`], at nesting depth `depth`.
#[derive(Clone, Copy)]
struct MemberSeed {
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for MemberSeed {
    type Value = Member<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Member<'de>, D::Error> {
        if self.depth > MAX_DEPTH {
            return Err(de::Error::custom("JSON nested too deeply"));
        }
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for MemberSeed {
    type Value = Member<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Member<'de>, E> {
        Ok(Member::Str(Cow::Borrowed(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Member<'de>, E> {
        Ok(Member::Str(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E>(self, v: String) -> Result<Member<'de>, E> {
        Ok(Member::Str(Cow::Owned(v)))
    }

    fn visit_bool<E>(self, v: bool) -> Result<Member<'de>, E> {
        Ok(Member::Other(Value::Bool(v)))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Member<'de>, E> {
        Ok(Member::Other(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Member<'de>, E> {
        Ok(Member::Other(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Member<'de>, E> {
        StrictSeed { depth: self.depth }
            .visit_f64(v)
            .map(Member::Other)
    }

    fn visit_unit<E>(self) -> Result<Member<'de>, E> {
        Ok(Member::Other(Value::Null))
    }

    /// An array of strings only becomes [`Member::Strs`]; any other array a value.
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Member<'de>, A::Error> {
        let inner = MemberSeed {
            depth: self.depth + 1,
        };
        let mut strings = Vec::new();
        while let Some(item) = seq.next_element_seed(inner)? {
            match item {
                Member::Str(s) => strings.push(s),
                other => {
                    let mut values: Vec<Value> = strings
                        .into_iter()
                        .map(|s| Value::String(s.into_owned()))
                        .collect();
                    values.push(other.into_value());
                    while let Some(item) = seq.next_element_seed(inner)? {
                        values.push(item.into_value());
                    }
                    return Ok(Member::Other(Value::Array(values)));
                }
            }
        }
        Ok(Member::Strs(strings))
    }

    fn visit_map<A: MapAccess<'de>>(self, access: A) -> Result<Member<'de>, A::Error> {
        StrictSeed { depth: self.depth }
            .visit_map(access)
            .map(Member::Other)
    }
}

/// A member name, borrowed from the input when it has no escapes.
struct Name<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Name<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NameVisitor;
        impl<'de> Visitor<'de> for NameVisitor {
            type Value = Name<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(NameVisitor)
    }
}

/// The member names of one object seen so far: a short list, or a hash set once the object
/// is large, so that an object of many members costs linear time, not quadratic.
#[derive(Default)]
struct Seen<'de> {
    few: Vec<Cow<'de, str>>,
    many: Option<HashSet<Cow<'de, str>>>,
}

impl<'de> Seen<'de> {
    const FEW: usize = 16;

    /// Records `name`; `false` if it was already there.
    fn insert(&mut self, name: Cow<'de, str>) -> bool {
        if let Some(many) = &mut self.many {
            return many.insert(name);
        }
        if self.few.contains(&name) {
            return false;
        }
        if self.few.len() < Self::FEW {
            if self.few.capacity() == 0 {
                self.few.reserve_exact(Self::FEW);
            }
            self.few.push(name);
        } else {
            let mut many: HashSet<_> = self.few.drain(..).collect();
            many.insert(name);
            self.many = Some(many);
        }
        true
    }
}

/// Checks one value under the rules of [`StrictSeed`] without building it.
#[derive(Clone, Copy)]
struct Check {
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for Check {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        if self.depth > MAX_DEPTH {
            return Err(de::Error::custom("JSON nested too deeply"));
        }
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Check {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        if v.is_finite() {
            Ok(())
        } else {
            Err(E::custom("number is not finite"))
        }
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let inner = Check {
            depth: self.depth + 1,
        };
        while seq.next_element_seed(inner)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<(), A::Error> {
        let inner = Check {
            depth: self.depth + 1,
        };
        let mut seen = Seen::default();
        while let Some(Name(name)) = access.next_key()? {
            if !seen.insert(name) {
                return Err(de::Error::custom("duplicate member name"));
            }
            access.next_value_seed(inner)?;
        }
        Ok(())
    }
}

#[derive(Clone, Copy)]
struct StrictSeed {
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for StrictSeed {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        if self.depth > MAX_DEPTH {
            return Err(de::Error::custom("JSON nested too deeply"));
        }
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrictSeed {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("number is not finite"))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let inner = StrictSeed {
            depth: self.depth + 1,
        };
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(inner)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let inner = StrictSeed {
            depth: self.depth + 1,
        };
        let mut map = Map::new();
        while let Some(name) = access.next_key::<String>()? {
            if map.contains_key(&name) {
                return Err(de::Error::custom("duplicate member name"));
            }
            let value = access.next_value_seed(inner)?;
            map.insert(name, value);
        }
        Ok(Value::Object(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_objects() {
        let map = parse_object(br#"{"a":1,"b":[true,null,"x"],"c":{"d":1.5}}"#).unwrap();
        assert_eq!(map.len(), 3);
    }

    #[test]
    fn refuses_duplicate_names_at_any_depth() {
        assert!(parse_object(br#"{"alg":"none","alg":"RS256"}"#).is_err());
        assert!(parse_object(br#"{"a":{"b":1,"b":2}}"#).is_err());
        assert!(parse_object(br#"{"a":[{"b":1,"b":2}]}"#).is_err());
    }

    #[test]
    fn refuses_non_objects_bom_and_trailing_data() {
        for input in [
            &b"[]"[..],
            b"1",
            b"\"s\"",
            b"null",
            b"\xEF\xBB\xBF{}",
            b"{} {}",
            b"{}x",
        ] {
            assert!(parse_object(input).is_err(), "{input:?}");
        }
    }

    #[test]
    fn refuses_invalid_utf8_and_huge_numbers() {
        assert!(parse_object(b"{\"a\":\"\xff\"}").is_err());
        assert!(parse_object(br#"{"exp":1e400}"#).is_err());
    }

    /// `pick` accepts and refuses exactly what `parse_object` does, and picks the same values.
    #[test]
    fn pick_agrees_with_parse_object() {
        let cases: &[&[u8]] = &[
            br#"{"a":1,"b":[true,null,"x"],"c":{"d":1.5}}"#,
            br#"{"alg":"none","alg":"RS256"}"#,
            br#"{"a":{"b":1,"b":2}}"#,
            br#"{"a":[{"b":1,"b":2}]}"#,
            br#"{"x":[{"b":1,"b\u0062":2}]}"#,
            br#"{"b1":1,"b\u0031":2}"#,
            b"[]",
            b"1",
            b"\xEF\xBB\xBF{}",
            b"{} {}",
            b"{\"a\":\"\xff\"}",
            b"{\"z\":\"\xff\"}",
            br#"{"exp":1e400}"#,
            br#"{"z":1e400}"#,
            br#"{"z":{"y":1e400}}"#,
        ];
        for input in cases {
            let full = parse_object(input);
            let picked = pick(input, [Some("a"), Some("alg"), Some("b1")]);
            assert_eq!(
                full.is_ok(),
                picked.is_ok(),
                "{:?}",
                String::from_utf8_lossy(input)
            );
            if let (Ok(full), Ok(picked)) = (full, picked) {
                let [a, alg, b1] = picked.map(|m| m.map(Member::into_value));
                assert_eq!(a.as_ref(), full.get("a"));
                assert_eq!(alg.as_ref(), full.get("alg"));
                assert_eq!(b1.as_ref(), full.get("b1"));
            }
        }
    }

    #[test]
    fn pick_fills_every_slot_of_a_name() {
        let [a, b, c] = pick(br#"{"s":"x y","t":1}"#, [Some("s"), None, Some("s")]).unwrap();
        assert_eq!(a, Some(Member::Str("x y".into())));
        assert_eq!(b, None);
        assert_eq!(c, a);
        let [s, t] = pick(br#"{"s":"x\u0020y","t":[1]}"#, [Some("s"), Some("t")]).unwrap();
        assert_eq!(s.as_ref().and_then(Member::as_str), Some("x y"));
        assert_eq!(t.map(Member::into_value), Some(serde_json::json!([1])));
    }

    #[test]
    fn many_members_are_checked_for_duplicates_too() {
        let members: Vec<String> = (0..100).map(|i| format!("\"m{i}\":{i}")).collect();
        let ok = format!("{{{}}}", members.join(","));
        assert!(pick(ok.as_bytes(), [Some("m5")]).is_ok());
        let twice = format!("{{{},\"m7\":0}}", members.join(","));
        assert!(pick(twice.as_bytes(), [Some("m5")]).is_err());
        let nested = format!("{{\"o\":{{{},\"m99\":0}}}}", members.join(","));
        assert!(pick(nested.as_bytes(), [None]).is_err());
    }

    #[test]
    fn pick_limits_depth() {
        let deep = "[".repeat(MAX_DEPTH + 2) + &"]".repeat(MAX_DEPTH + 2);
        for name in [Some("a"), None] {
            assert!(pick(format!("{{\"a\":{deep}}}").as_bytes(), [name]).is_err());
        }
        let ok = "[".repeat(MAX_DEPTH - 1) + &"]".repeat(MAX_DEPTH - 1);
        for name in [Some("a"), None] {
            assert!(pick(format!("{{\"a\":{ok}}}").as_bytes(), [name]).is_ok());
        }
    }

    #[test]
    fn limits_depth() {
        let ok = format!(
            "{}{}",
            "{\"a\":".repeat(MAX_DEPTH),
            "1".to_owned() + &"}".repeat(MAX_DEPTH)
        );
        assert!(parse_object(ok.as_bytes()).is_ok());
        let deep = "[".repeat(MAX_DEPTH + 2) + &"]".repeat(MAX_DEPTH + 2);
        let too_deep = format!("{{\"a\":{deep}}}");
        assert!(parse_object(too_deep.as_bytes()).is_err());
    }
}
