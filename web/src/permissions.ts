// What the viewer may do, in one place. The API says which approvals the
// viewer can decide now (pendingApprovals: approver or member of the
// approver group, and not the requester when the policy forbids it); roles
// say the rest. When the API grows viewerCan fields (per definition and
// environment), they replace the role checks here.

export type Viewer = { username: string; role: 'ADMIN' | 'EDITOR' | 'VIEWER' };

const rank = { VIEWER: 1, EDITOR: 2, ADMIN: 3 } as const;

export function atLeast(v: Viewer, role: keyof typeof rank): boolean {
  return rank[v.role] >= rank[role];
}

export type Can = {
  decideApproval: (approvalId: string) => boolean;
  deploy: boolean;
  cancelDeployment: boolean;
  abandonRelease: boolean;
  readAudit: boolean;
};

export function permissions(v: Viewer, decidable: ReadonlySet<string>): Can {
  return {
    decideApproval: (id) => decidable.has(id),
    deploy: atLeast(v, 'EDITOR'),
    cancelDeployment: atLeast(v, 'EDITOR'),
    abandonRelease: atLeast(v, 'EDITOR'),
    readAudit: v.role === 'ADMIN',
  };
}
