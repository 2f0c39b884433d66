// Package auth checks and mints access tokens in LiveKit's format: HS256
// JWTs whose issuer is an API key, whose subject is the participant's
// identity and whose "video" claim carries the grants (room, roomJoin,
// roomAdmin, roomRecord, roomList, canPublish, canSubscribe). Tokens made by
// LiveKit's tools and server SDKs therefore work here unchanged.
//
// Verify answers with errors that tell a 401 (no usable token) from a 403
// (a valid token without the grant the action needs); Status maps them to
// HTTP codes.
package auth
