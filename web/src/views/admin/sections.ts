// The Administration area's pages. Each section is offered (in the navigation and at its URL)
// when the server says the viewer may call `needs` (viewer.mayCall: the API's own role check),
// so nobody is shown a page the API would refuse. A new administration page is one more entry
// here; the navigation and the routes follow.
import type { ComponentType } from 'react';
import { AdminAgents } from './Agents';
import { AdminPools } from './Pools';
import { AdminDeploymentGroups } from './DeploymentGroups';
import { AdminUsers } from './Users';
import { AdminGroups } from './Groups';
import { AdminTokens } from './Tokens';

export type AdminSection = {
  // The page's URL is /admin/<path>.
  path: string;
  label: string;
  // One line saying what the page is for (the Administration index lists it).
  about: string;
  // The API field ("Query.users", "Mutation.saveAgentPool") whose permission offers the page.
  needs: string;
  view: ComponentType;
};

export const adminSections: AdminSection[] = [
  // Agents, pools, deployment groups.
  { path: 'agents', label: 'Agents', about: 'Agents with their capabilities: enable, disable, move, delete; registration tokens.', needs: 'Mutation.setAgentEnabled', view: AdminAgents },
  { path: 'pools', label: 'Agent pools', about: 'Agent pools and who may name them in a definition.', needs: 'Mutation.saveAgentPool', view: AdminPools },
  { path: 'deployment-groups', label: 'Deployment groups', about: 'Deployment groups, their targets with tags and state, target registration.', needs: 'Mutation.saveDeploymentGroup', view: AdminDeploymentGroups },
  // People and their tokens.
  { path: 'users', label: 'Users', about: 'Users: create, roles, passwords, disable.', needs: 'Query.users', view: AdminUsers },
  { path: 'groups', label: 'Groups', about: 'Groups and their members.', needs: 'Query.groups', view: AdminGroups },
  { path: 'tokens', label: 'API tokens', about: 'Your API tokens and other users\u2019 (scopes, expiry, revoke).', needs: 'Query.userApiTokens', view: AdminTokens },
];
