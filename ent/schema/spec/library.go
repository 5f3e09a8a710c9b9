package spec

// GroupVariable is one variable of a variable group (the library). A secret
// one's Value is sealed at rest like a definition's secret and never
// returned. SettableAtReleaseTime says a release may override it.
type GroupVariable struct {
	Name                  string `json:"name"`
	Value                 string `json:"value,omitempty"`
	Secret                bool   `json:"secret,omitempty"`
	SettableAtReleaseTime bool   `json:"settableAtReleaseTime,omitempty"`
}

// LibraryPermissions are the permission lists of a variable group or a
// secure file, in the shape of a definition's (users and groups). Use: link
// it in a definition (variable groups) or a job (secure files). Administer:
// change, delete and grant it. Read: read its non-secret values (variable
// groups). An empty list is open to every holder of the role (EDITOR for
// Use and Administer, VIEWER for Read); a non-empty one narrows it. An
// administrator may use and read; a user may read. ADMINs act without being
// listed, audited.
type LibraryPermissions struct {
	Use        []Approver `json:"use,omitempty"`
	Administer []Approver `json:"administer,omitempty"`
	Read       []Approver `json:"read,omitempty"`
}

// FrozenGroup is a variable group as a release froze it: the values (secrets
// still sealed) of the group's revision that the release uses, and where it
// was linked (Environment "": at definition scope).
type FrozenGroup struct {
	GroupID     int        `json:"groupId"`
	Name        string     `json:"name"`
	Revision    int        `json:"revision"`
	Environment string     `json:"environment,omitempty"`
	Variables   []Variable `json:"variables,omitempty"`
}

// LibraryChange is one difference a variable group revision records:
// Path is "variables[NAME].value" (or .secret, .settableAtReleaseTime),
// "name", "description" or "permissions.use" …; secret values read "***".
type LibraryChange struct {
	Path   string  `json:"path"`
	Before *string `json:"before,omitempty"`
	After  *string `json:"after,omitempty"`
	Kind   string  `json:"kind"` // ADDED, REMOVED or CHANGED
}
