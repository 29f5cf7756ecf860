//! The Redis keys of the revocations, and the channel their changes are announced on.
//!
//! Every key of one token sits in one Redis Cluster hash slot: the token's revocation and
//! its subject's cut-off share a hash tag made of the issuer and the subject, so that one
//! lookup is one `MGET` on one node, on a cluster as on a single server.

/// The key layout of a store: its prefix, the keys of each revocation, and those of the
/// layout before this one (read during an upgrade, see [`crate`]'s docs).
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    prefix: String,
}

impl Keys {
    /// The layout under `prefix`; refused when the prefix holds an empty hash tag (`{}`
    /// first), with which Redis Cluster would hash each whole key and split a token's keys
    /// across slots. A prefix with a non-empty tag (`{tollgate}:`) puts every key in that
    /// one slot.
    pub(crate) fn new(prefix: String) -> Result<Self, String> {
        if let Some(open) = prefix.find('{')
            && prefix[open + 1..].starts_with('}')
        {
            return Err(format!(
                "the key prefix {prefix:?} holds an empty hash tag `{{}}`, which would put a \
                 token's keys in different Redis Cluster slots"
            ));
        }
        Ok(Self { prefix })
    }

    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `{prefix}revocations`.
    pub(crate) fn channel(&self) -> String {
        format!("{}revocations", self.prefix)
    }

    /// `{prefix}{{tag}}t:{id}`: a token's revocation, in its subject's slot.
    pub(crate) fn token(&self, issuer: &str, subject: Option<&str>, id: &str) -> String {
        let mut key = self.tagged(issuer, subject);
        key.push_str("t:");
        key.push_str(id);
        key
    }

    /// `{prefix}{{tag}}s`: a subject's cut-off.
    pub(crate) fn subject(&self, issuer: &str, subject: &str) -> String {
        let mut key = self.tagged(issuer, Some(subject));
        key.push('s');
        key
    }

    /// The prefix and the hash tag `{{len(issuer)}:{issuer}{len(subject)}:{subject}}`, or
    /// `{{len(issuer)}:{issuer}-}` for a token without subject. Both parts are
    /// length-prefixed, so no two (issuer, subject) pairs share a tag, and the tag is never
    /// empty (Redis hashes the whole key for `{}`). An issuer or subject holding `}` ends
    /// the tag early, at the same place in every key of the pair, so the pair still shares
    /// its slot; so does a prefix holding `{`.
    fn tagged(&self, issuer: &str, subject: Option<&str>) -> String {
        let mut key = String::with_capacity(
            self.prefix.len() + issuer.len() + subject.map_or(0, str::len) + 48,
        );
        key.push_str(&self.prefix);
        key.push('{');
        key.push_str(&issuer.len().to_string());
        key.push(':');
        key.push_str(issuer);
        match subject {
            Some(subject) => {
                key.push_str(&subject.len().to_string());
                key.push(':');
                key.push_str(subject);
            }
            None => key.push('-'),
        }
        key.push('}');
        key
    }

    /// The token key of tollgate-redis 0.1: `{prefix}t:{len(issuer)}:{issuer}{id}`.
    pub(crate) fn legacy_token(&self, issuer: &str, id: &str) -> String {
        format!("{}t:{}:{issuer}{id}", self.prefix, issuer.len())
    }

    /// The subject key of tollgate-redis 0.1: `{prefix}s:{len(issuer)}:{issuer}{subject}`.
    pub(crate) fn legacy_subject(&self, issuer: &str, subject: &str) -> String {
        format!("{}s:{}:{issuer}{subject}", self.prefix, issuer.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The hashed part of a key, as Redis Cluster picks it.
    fn hash_tag(key: &str) -> &str {
        if let Some(open) = key.find('{')
            && let Some(len) = key[open + 1..].find('}')
            && len > 0
        {
            return &key[open + 1..open + 1 + len];
        }
        key
    }

    #[test]
    fn the_layout() {
        let keys = Keys::new("p:".into()).unwrap();
        assert_eq!(
            keys.token("iss", Some("alice"), "j1"),
            "p:{3:iss5:alice}t:j1"
        );
        assert_eq!(keys.token("iss", None, "j1"), "p:{3:iss-}t:j1");
        assert_eq!(keys.subject("iss", "alice"), "p:{3:iss5:alice}s");
        assert_eq!(keys.legacy_token("iss", "j1"), "p:t:3:issj1");
        assert_eq!(keys.legacy_subject("iss", "alice"), "p:s:3:issalice");
        assert_eq!(keys.channel(), "p:revocations");
        assert!(Keys::new("a{}b:".into()).is_err());
        assert!(Keys::new("{tollgate}:".into()).is_ok());
    }

    proptest! {
        /// A token's key and its subject's key share a slot, whatever the names hold.
        #[test]
        fn a_token_and_its_subject_share_a_slot(
            prefix in "[a-z{}:]{0,6}", issuer in ".{0,12}", subject in ".{0,12}", id in ".{0,12}",
        ) {
            let Ok(keys) = Keys::new(prefix) else { return Ok(()) };
            let token = keys.token(&issuer, Some(&subject), &id);
            let cutoff = keys.subject(&issuer, &subject);
            prop_assert_eq!(hash_tag(&token), hash_tag(&cutoff));
        }

        /// No two (issuer, subject, id) triples share a token key, nor two pairs a subject
        /// key, and no key of the new layout is one of the old.
        #[test]
        fn keys_are_unambiguous(
            a in (".{0,6}", proptest::option::of(".{0,6}"), ".{0,6}"),
            b in (".{0,6}", proptest::option::of(".{0,6}"), ".{0,6}"),
        ) {
            let keys = Keys::new("p:".into()).unwrap();
            let key = |(i, s, id): &(String, Option<String>, String)| keys.token(i, s.as_deref(), id);
            if a != b {
                prop_assert_ne!(key(&a), key(&b));
            }
            if let (Some(sa), Some(sb)) = (&a.1, &b.1) && (&a.0, sa) != (&b.0, sb) {
                prop_assert_ne!(keys.subject(&a.0, sa), keys.subject(&b.0, sb));
            }
            prop_assert_ne!(key(&a), keys.legacy_token(&b.0, &b.2));
        }
    }
}
