// A cold start, as a process: a Node authorizer on aws-jwt-verify builds its verifier with
// the JWK Set cached, verifies one token and answers one REST TOKEN event with a policy,
// then exits — what crates/tollgate-lambda/examples/cold_start.rs does (see BENCHMARKS.md).
//
//   node benches/peers/aws-jwt-verify/cold_start.mjs
import { readFileSync } from "node:fs";
import { JwtRsaVerifier } from "aws-jwt-verify";

const fixtures = new URL("../../../crates/tollgate-lambda/benches/fixtures/", import.meta.url);
const token = readFileSync(new URL("rs256-token.txt", fixtures), "utf8").trim();
const jwks = JSON.parse(readFileSync(new URL("rs256-jwks.json", fixtures), "utf8"));
const verifier = JwtRsaVerifier.create({
  issuer: "https://idp.example",
  audience: "orders-api",
  jwksUri: "https://idp.example/.well-known/jwks.json",
});
verifier.cacheJwks(jwks);

const event = {
  type: "TOKEN",
  authorizationToken: `Bearer ${token}`,
  methodArn: "arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/GET/me",
};
const payload = await verifier.verify(event.authorizationToken.slice("Bearer ".length));
const stage = event.methodArn.split("/").slice(0, 2).join("/");
console.log(JSON.stringify({
  principalId: payload.sub,
  policyDocument: {
    Version: "2012-10-17",
    Statement: [{ Action: "execute-api:Invoke", Effect: "Allow", Resource: `${stage}/*` }],
  },
  context: { sub: payload.sub, iss: payload.iss, exp: payload.exp },
}));
