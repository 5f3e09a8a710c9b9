// What the viewer may do, in one place, from what the API says:
// - pendingApprovals: the approvals the viewer can decide now (approver or
//   member of the approver group, and not the requester when the policy
//   forbids it);
// - viewerCan on the definition and on each environment: the definition's
//   and environment's scoped permissions, ADMIN included.
// The role is the fallback when a view has not read viewerCan.

import type { UserRole } from './gql/graphql';

export type Viewer = { username: string; role: UserRole };

const rank: Record<UserRole, number> = { VIEWER: 1, EDITOR: 2, ADMIN: 3 };

export function atLeast(v: Viewer, role: UserRole): boolean {
  return rank[v.role] >= rank[role];
}

export type DefinitionCan = { manageDeployments: boolean; manageApprovals: boolean; createReleases?: boolean };
export type EnvironmentCan = { manageDeployments: boolean; manageApprovals: boolean };

export type Scope = {
  definition?: DefinitionCan | null;
  environments?: ReadonlyMap<string, EnvironmentCan | null | undefined>;
};

export type Can = {
  decideApproval: (approvalId: string) => boolean;
  reassignApproval: (approvalId: string, environment: string) => boolean;
  deploy: (environment: string) => boolean;
  cancelDeployment: (environment: string) => boolean;
  abandonRelease: boolean;
  readAudit: boolean;
};

export function permissions(v: Viewer, decidable: ReadonlySet<string>, scope: Scope = {}): Can {
  const env = (name: string) => scope.environments?.get(name);
  const manage = (name: string) => env(name)?.manageDeployments ?? scope.definition?.manageDeployments ?? atLeast(v, 'EDITOR');
  return {
    decideApproval: (id) => decidable.has(id),
    reassignApproval: (id, name) => decidable.has(id) || (env(name)?.manageApprovals ?? scope.definition?.manageApprovals ?? v.role === 'ADMIN'),
    deploy: manage,
    cancelDeployment: manage,
    abandonRelease: scope.definition?.manageDeployments ?? atLeast(v, 'EDITOR'),
    readAudit: v.role === 'ADMIN',
  };
}
