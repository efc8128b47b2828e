// Package auth gives clients rights from lists of channel-name patterns,
// without any token format: it implements halley.Rights, and package
// auth/jwt builds those rights from the claims of a JSON Web Token.
//
// Use ParseRights to validate lists of patterns (from a token, a config
// file, a database) and get a Rights; use Patterns.Match to test one name.
//
// # Patterns
//
// A pattern is an exact name ("news"), or a prefix followed by a trailing
// '*' ("user:alice*" matches "user:alice" and "user:alice/inbox"); '*'
// alone matches every name. A '*' anywhere but at the end is an ordinary
// character. Matching costs at most the length of the name for each
// pattern, and never allocates.
//
// Listen patterns, which say on which keys of which notifiers a client may
// listen, have the form "notifier:keypattern": the notifier's name exactly,
// a ':', and a pattern for the key ("docs:42", "docs:team-*", "docs:*").
// '*' alone allows every key of every notifier.
//
// # Concurrency
//
// Patterns and Rights are values that are never modified once built: they
// are safe for concurrent use.
package auth
