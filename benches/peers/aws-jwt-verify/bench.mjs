// aws-jwt-verify 5 verifying the RS256 token of crates/tollgate-lambda/benches/fixtures with
// that JWK Set cached (no fetch), warm, in one process: the per-invocation cost of a Node
// authorizer's verification. Prints one line per measure, in nanoseconds per verification.
//
//   npm install --prefix benches/peers/aws-jwt-verify
//   node benches/peers/aws-jwt-verify/bench.mjs [iterations]
import { readFileSync } from "node:fs";
import { JwtRsaVerifier } from "aws-jwt-verify";

const fixtures = new URL("../../../crates/tollgate-lambda/benches/fixtures/", import.meta.url);
const token = readFileSync(new URL("rs256-token.txt", fixtures), "utf8").trim();
const jwks = JSON.parse(readFileSync(new URL("rs256-jwks.json", fixtures), "utf8"));
const iterations = Number(process.argv[2] ?? 20000);

const verifier = JwtRsaVerifier.create({
  issuer: "https://idp.example",
  audience: "orders-api",
  // Never fetched: the set is cached below.
  jwksUri: "https://idp.example/.well-known/jwks.json",
});
verifier.cacheJwks(jwks);

async function measure(name, once) {
  for (let i = 0; i < Math.min(iterations, 5000); i++) await once();
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) await once();
  const ns = Number(process.hrtime.bigint() - start) / iterations;
  console.log(`${name}\t${ns.toFixed(0)} ns`);
}

const payload = await verifier.verify(token);
if (payload.sub !== "alice") throw new Error("the token was not accepted");
await measure("aws-jwt-verify/verify", () => verifier.verify(token));
await measure("aws-jwt-verify/verifySync", () => verifier.verifySync(token));
