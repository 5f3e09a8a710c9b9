// The signed-in person. What they may do with a release, its environments,
// deployments and approvals is never decided here: each view reads the
// viewerCan fields of what it shows (the server's own checks of the mutations:
// permissions and state), and shows only those actions. The role decides only
// which pages the navigation offers.
import type { UserRole } from './gql/graphql';

export type Viewer = { username: string; role: UserRole };
