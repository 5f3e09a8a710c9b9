// Package pgexec marks the statements that must run on PostgreSQL as unnamed statements rather
// than through pgx's cache of named prepared statements.
//
// Why (docs/decisions.md, "The sealer's scans run as unnamed statements"): a scan of a partial
// index whose rows leave it all the time (the sealer's unsealed audit rows and events) walks the
// index entries of every row that left it until VACUUM removes them, unless scans mark those
// entries dead as they pass them. Measured on PostgreSQL 15, scans run as named prepared
// statements did not mark them, and the sealer's read grew with every row sealed since the last
// VACUUM (thousands of entries per pass under a steady write load); the same scan as an unnamed
// statement marks them and reads a few pages.
package pgexec

import "context"

type unnamedKey struct{}

// Unnamed returns ctx whose statements the PostgreSQL driver runs as unnamed statements
// (pgx's QueryExecModeCacheDescribe: one round trip, parsed and planned on every execution).
func Unnamed(ctx context.Context) context.Context {
	return context.WithValue(ctx, unnamedKey{}, true)
}

// IsUnnamed reports whether ctx was marked by Unnamed.
func IsUnnamed(ctx context.Context) bool {
	v, _ := ctx.Value(unnamedKey{}).(bool)
	return v
}
