// A relying party written with openid-client (npm), driven by tests/test_oidc_clients.py.
// Usage: node rp.mjs ISSUER CLIENT_ID CLIENT_SECRET REDIRECT_URI SESSION_COOKIE
// It plays the user's browser with the given session cookie, and prints one JSON object:
// what each step of the protocol gave, or the error openid-client raised.
import * as client from "openid-client";

const [issuer, clientId, clientSecret, redirectUri, cookie] = process.argv.slice(2);
const insecure = { execute: [client.allowInsecureRequests] }; // the test server is http on loopback
const config = await client.discovery(new URL(issuer), clientId, clientSecret, undefined, insecure);
const results = { issuer: config.serverMetadata().issuer };

async function logIn() {
  const verifier = client.randomPKCECodeVerifier();
  const nonce = client.randomNonce();
  const state = client.randomState();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: "openid email",
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
    nonce,
    state,
  });
  const answer = await fetch(url, { headers: { cookie }, redirect: "manual" });
  const location = answer.headers.get("location");
  return client.authorizationCodeGrant(config, new URL(location), {
    pkceCodeVerifier: verifier,
    expectedNonce: nonce,
    expectedState: state,
    idTokenExpected: true,
  });
}

async function failure(step) {
  try {
    await step();
    return null;
  } catch (error) {
    return error.error ?? error.code ?? String(error);
  }
}

const first = await logIn();
const claims = first.claims();
results.claims = claims;
results.userinfo = await client.fetchUserInfo(config, first.access_token, claims.sub);
const second = await client.refreshTokenGrant(config, first.refresh_token);
results.rotated = second.refresh_token !== first.refresh_token;
results.reuse = await failure(() => client.refreshTokenGrant(config, first.refresh_token));
results.familyAfterReuse = await failure(() =>
  client.refreshTokenGrant(config, second.refresh_token),
);
const third = await logIn();
const before = await client.tokenIntrospection(config, third.access_token);
await client.tokenRevocation(config, third.access_token);
const after = await client.tokenIntrospection(config, third.access_token);
results.introspection = { before: before.active, after: after.active };
results.userinfoAfterRevocation = await failure(() =>
  client.fetchUserInfo(config, third.access_token, claims.sub),
);
console.log(JSON.stringify(results));
