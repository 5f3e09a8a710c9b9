// Package cairn is the root of the Cairn module. Its only job is the one code
// generation chain: ent (with entgql's GraphQL types) first, then gqlgen.
package cairn

//go:generate go run -mod=mod ./ent/entc.go
//go:generate go run -mod=mod github.com/99designs/gqlgen generate --config gqlgen.yml
