package delivery

import "fmt"

// Role is a user's coarse permission level.
type Role string

// The roles, from most to least powerful.
const (
	RoleAdmin  Role = "ADMIN"
	RoleEditor Role = "EDITOR"
	RoleViewer Role = "VIEWER"
)

func (r Role) rank() int {
	switch r {
	case RoleAdmin:
		return 3
	case RoleEditor:
		return 2
	case RoleViewer:
		return 1
	}
	return 0
}

// AtLeast reports whether r grants everything that min grants.
func (r Role) AtLeast(min Role) bool { return r.rank() >= min.rank() && r.rank() > 0 }

// ScopeActAs lets a token act on behalf of another user (chatops bots).
const ScopeActAs = "act-as"

// Actor is the principal on whose authority a change is made. It is passed
// explicitly to every engine method that changes state.
type Actor struct {
	UserID   int
	Username string
	Role     Role
	// TokenID is the jti of the credential in use, if any.
	TokenID string
	// SessionID is the dashboard session in use, if any (0 for tokens).
	SessionID int
	Scopes    []string
	// Via is the bot that acts on behalf of this user, if any.
	Via string
	// System marks the engine itself (triggers, timers, webhooks).
	System bool
}

// SystemActor is the engine acting on its own (timers, triggers, CI).
func SystemActor(name string) Actor {
	return Actor{Username: name, Role: RoleAdmin, System: true}
}

// HasScope reports whether the actor's token carries scope s.
func (a Actor) HasScope(s string) bool {
	for _, x := range a.Scopes {
		if x == s {
			return true
		}
	}
	return false
}

// String names the actor for audit records: "alice", "bot (for alice)".
func (a Actor) String() string {
	if a.Via != "" {
		return fmt.Sprintf("%s (via %s)", a.Username, a.Via)
	}
	return a.Username
}

// Require returns FORBIDDEN unless the actor has at least role min.
func (a Actor) Require(min Role, doing string) error {
	if a.System || a.Role.AtLeast(min) {
		return nil
	}
	return Forbidden("%s requires role %s; %s has %s", doing, min, a.Username, a.Role)
}
