// Package auth issues and verifies Cairn's JWTs and authenticates HTTP and
// websocket requests.
//
// Tokens are signed with Ed25519 (algorithm EdDSA, the only one accepted:
// verification pins it), carry sub, jti, iat, exp, iss and aud, and are
// checked for issuer, audience ("api" for people and bots, "agent" for
// agents: distinct), required expiry and revocation by jti. The signing key is
// generated into the data directory on first start unless one is given.
package auth
