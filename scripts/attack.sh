#!/usr/bin/env bash
# Replays attacks of docs/security-cases.md with curl against a *running* tollgate demo, over
# real HTTP, and checks each answer: status and WWW-Authenticate. Exits 1 if any answer is
# not the expected one. (CI runs the same attacks, and more, as the Rust test
# tests/tests/attack_e2e.rs; this script is for poking at a live process by hand.)
#
#   # terminal 1: the demo (optionally with a key file, which enables three more attacks)
#   openssl genpkey -algorithm ed25519 -out /tmp/demo-key.pem
#   TOLLGATE_ADDR=127.0.0.1:3000 TOLLGATE_SIGNING_KEY_FILE=/tmp/demo-key.pem \
#       cargo run -p tollgate-demo
#   # terminal 2:
#   TOLLGATE_SIGNING_KEY_FILE=/tmp/demo-key.pem scripts/attack.sh http://127.0.0.1:3000
#
# Arguments: the demo's base URL (default: http://$TOLLGATE_ADDR, else
# http://127.0.0.1:3000). Environment: TOLLGATE_ISSUER, TOLLGATE_AUDIENCE (as given to the
# demo; defaults tollgate-demo, tollgate-demo-api); TOLLGATE_SIGNING_KEY_FILE (the demo's
# Ed25519 key: enables the expired, wrong-audience and oversized-token attacks, which
# need tokens the demo's own key signed).
#
# Needs bash, curl, base64, openssl (1.1.1 or later, for Ed25519 and HMAC), od, sed, tr.

set -euo pipefail

BASE=${1:-http://${TOLLGATE_ADDR:-127.0.0.1:3000}}
BASE=${BASE%/}
ISSUER=${TOLLGATE_ISSUER:-tollgate-demo}
AUDIENCE=${TOLLGATE_AUDIENCE:-tollgate-demo-api}
KEY_FILE=${TOLLGATE_SIGNING_KEY_FILE:-}
REALM='Bearer realm="tollgate-demo"'

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
FAILURES=0
PASSED=0

# --- encoding ---------------------------------------------------------------------------

b64url() { base64 | tr -d '\n=' | tr '+/' '-_'; }

b64url_decode() {
    local s=$1
    s=$(printf '%s' "$s" | tr '_-' '/+')
    while [ $(( ${#s} % 4 )) -ne 0 ]; do s="$s="; done
    printf '%s' "$s" | base64 -d
}

to_hex() { od -An -v -tx1 | tr -d ' \n'; }

# seg JSON: one base64url segment.
seg() { printf '%s' "$1" | b64url; }

# ed25519_sign KEYFILE INPUT: the base64url Ed25519 signature of INPUT.
ed25519_sign() {
    printf '%s' "$2" >"$WORK/input"
    openssl pkeyutl -sign -inkey "$1" -rawin -in "$WORK/input" | b64url
}

# hs256_sign HEXKEY INPUT: the base64url HMAC-SHA256 of INPUT.
hs256_sign() {
    printf '%s' "$2" | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$1" -binary | b64url
}

# --- requests ---------------------------------------------------------------------------

# check NAME STATUS CHALLENGE [curl arguments...]
# CHALLENGE is the exact WWW-Authenticate value expected, or "-" for none at all.
check() {
    local name=$1 want_status=$2 want_challenge=$3
    shift 3
    local status challenge
    status=$(curl -s -o "$WORK/body" -D "$WORK/head" -w '%{http_code}' "$@" || true)
    challenge=$(tr -d '\r' <"$WORK/head" | sed -n 's/^[Ww][Ww][Ww]-[Aa]uthenticate: //p')
    [ -n "$challenge" ] || challenge=-
    if [ "$status" = "$want_status" ] && [ "$challenge" = "$want_challenge" ]; then
        PASSED=$((PASSED + 1))
        printf 'ok    %-58s %s\n' "$name" "$status"
    else
        FAILURES=$((FAILURES + 1))
        printf 'FAIL  %-58s got %s, expected %s\n' "$name" "$status" "$want_status"
        printf '      WWW-Authenticate: %s\n      expected:         %s\n' "$challenge" "$want_challenge"
        printf '      body: %s\n' "$(head -c 300 "$WORK/body")"
    fi
}

invalid() { printf '%s, error="invalid_token", error_description="%s"' "$REALM" "$1"; }
bad_request() { printf '%s, error="invalid_request", error_description="%s"' "$REALM" "$1"; }

login() {
    curl -s -X POST "$BASE/login" -H 'content-type: application/json' \
        -d "{\"username\":\"$1\",\"password\":\"$1\"}" |
        sed -E 's/.*"access_token":"([^"]+)".*/\1/'
}

# --- the attacks ------------------------------------------------------------------------

if ! curl -s -o /dev/null "$BASE/health"; then
    echo "no demo answers at $BASE; start one with: cargo run -p tollgate-demo" >&2
    exit 2
fi
echo "attacking $BASE"

ALICE=$(login alice)
case $ALICE in *.*.*) ;; *) echo "login failed: $ALICE" >&2; exit 2 ;; esac
IFS=. read -r H64 P64 S64 <<<"$ALICE"
NOW=$(date +%s)

check "valid token (control)" 200 - "$BASE/me" -H "Authorization: Bearer $ALICE"
check "no credentials" 401 "$REALM" "$BASE/me"
check "another scheme (Basic)" 401 "$REALM" "$BASE/me" -H 'Authorization: Basic YWxpY2U6YWxpY2U='
check "garbage bearer token" 401 "$(invalid 'malformed token')" \
    "$BASE/me" -H 'Authorization: Bearer garbage'
check "empty bearer token" 400 "$(bad_request 'malformed bearer token')" \
    "$BASE/me" -H 'Authorization: Bearer'

for alg in none None NONE; do
    NONE64=$(seg "{\"alg\":\"$alg\",\"typ\":\"JWT\"}")
    check "alg $alg, signature kept" 401 "$(invalid 'unsigned tokens are not accepted')" \
        "$BASE/me" -H "Authorization: Bearer $NONE64.$P64.$S64"
    check "alg $alg, no signature" 401 "$(invalid 'malformed token')" \
        "$BASE/me" -H "Authorization: Bearer $NONE64.$P64."
done

# Tampered payload: alice's claims with the admin role, her signature kept.
CLAIMS=$(b64url_decode "$P64")
ADMIN_CLAIMS=${CLAIMS/\"roles\":\[\"user\"\]/\"roles\":[\"user\",\"admin\"]}
[ "$ADMIN_CLAIMS" != "$CLAIMS" ] || { echo "no roles claim in $CLAIMS" >&2; exit 2; }
check "tampered payload (admin role added)" 401 "$(invalid 'invalid signature')" \
    "$BASE/admin" -H "Authorization: Bearer $H64.$(seg "$ADMIN_CLAIMS").$S64"

# Algorithm confusion: HS256 keyed with the public key the demo publishes.
X=$(curl -s "$BASE/.well-known/jwks.json" | sed -E 's/.*"x":"([^"]+)".*/\1/')
HS64=$(seg '{"alg":"HS256","kid":"demo-1","typ":"JWT"}')
INPUT="$HS64.$(seg "$ADMIN_CLAIMS")"
check "HS256 keyed with the demo's public key" 401 \
    "$(invalid 'algorithm not allowed for this key')" \
    "$BASE/admin" -H "Authorization: Bearer $INPUT.$(hs256_sign "$(b64url_decode "$X" | to_hex)" "$INPUT")"

# Forged admin role, re-signed with the attacker's own Ed25519 key under the demo's kid.
openssl genpkey -algorithm ed25519 -out "$WORK/attacker.pem" 2>/dev/null
ED64=$(seg '{"alg":"EdDSA","kid":"demo-1","typ":"JWT"}')
INPUT="$ED64.$(seg "$ADMIN_CLAIMS")"
check "admin role re-signed by an attacker's key" 401 "$(invalid 'invalid signature')" \
    "$BASE/admin" -H "Authorization: Bearer $INPUT.$(ed25519_sign "$WORK/attacker.pem" "$INPUT")"

# Over the 8 KiB limit: 401, not 431 or 500.
HUGE=$(head -c 9000 /dev/zero | tr '\0' a)
check "oversized token (9000 bytes)" 401 "$(invalid 'token too large')" \
    "$BASE/me" -H "Authorization: Bearer $H64.$HUGE.$S64"

check "two Authorization headers" 400 "$(bad_request 'more than one Authorization header')" \
    "$BASE/me" -H "Authorization: Bearer $ALICE" -H "Authorization: Bearer $ALICE"
check "token in the query only (the demo ignores it)" 401 "$REALM" "$BASE/me?access_token=$ALICE"
check "garbage header beats a valid cookie" 401 "$(invalid 'malformed token')" \
    "$BASE/me" -H 'Authorization: Bearer garbage' -H "Cookie: __Host-access_token=$ALICE"

check "alice on /admin" 403 \
    "$REALM, error=\"insufficient_scope\", error_description=\"the token lacks a required role or scope\", scope=\"admin\"" \
    "$BASE/admin" -H "Authorization: Bearer $ALICE"

if [ -n "$KEY_FILE" ]; then
    claims() {
        printf '{"iss":"%s","aud":"%s","sub":"alice","roles":["user"],"iat":%s,"exp":%s%s}' \
            "$ISSUER" "$1" "$2" "$3" "$4"
    }
    signed() {
        local input="$ED64.$(seg "$1")"
        printf '%s.%s' "$input" "$(ed25519_sign "$KEY_FILE" "$input")"
    }
    check "control: a token signed with the key file" 200 - \
        "$BASE/me" -H "Authorization: Bearer $(signed "$(claims "$AUDIENCE" "$NOW" $((NOW + 600)) '')")"
    check "expired token" 401 "$(invalid 'token expired')" \
        "$BASE/me" -H "Authorization: Bearer $(signed "$(claims "$AUDIENCE" $((NOW - 7200)) $((NOW - 3600)) '')")"
    check "wrong audience" 401 "$(invalid 'wrong audience')" \
        "$BASE/me" -H "Authorization: Bearer $(signed "$(claims other-api "$NOW" $((NOW + 600)) '')")"
    PAD=",\"pad\":\"$(head -c 9000 /dev/zero | tr '\0' p)\""
    check "oversized, validly signed token" 401 "$(invalid 'token too large')" \
        "$BASE/me" -H "Authorization: Bearer $(signed "$(claims "$AUDIENCE" "$NOW" $((NOW + 600)) "$PAD")")"
else
    echo "skip  expired / wrong audience / signed oversized (set TOLLGATE_SIGNING_KEY_FILE)"
fi

# A form of another site posting to /logout with the cookie: refused, no challenge.
check "cross-site form POST to /logout with the cookie" 403 - -X POST "$BASE/logout" \
    -H "Cookie: __Host-access_token=$ALICE" -H 'Origin: https://evil.example' \
    -H 'Sec-Fetch-Site: cross-site' -H 'Content-Type: application/x-www-form-urlencoded' \
    -d 'confirm=yes'

# Logout revokes the token, in the header and in the cookie.
check "logout" 204 - -X POST "$BASE/logout" -H "Authorization: Bearer $ALICE"
check "the logged-out token" 401 "$(invalid 'token revoked')" \
    "$BASE/me" -H "Authorization: Bearer $ALICE"
check "the logged-out token as a cookie" 401 "$(invalid 'token revoked')" \
    "$BASE/me" -H "Cookie: __Host-access_token=$ALICE"

echo "$PASSED passed, $FAILURES failed"
[ "$FAILURES" -eq 0 ]
