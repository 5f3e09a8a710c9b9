// The dashboard's Library and Administration pages, one list. Each section is offered (in the
// navigation, its area's index and at its URL) when the server says the viewer may call `needs`
// (viewer.mayCall: the API's own role check), so nobody is shown a page the API would refuse.
// A new page is one more entry here; the navigation and the routes follow. Both areas live
// under /admin/; the library's pages are routed before the Administration area.
import type { ComponentType } from 'react';
import { AdminAgents } from './admin/Agents';
import { AdminPools } from './admin/Pools';
import { AdminDeploymentGroups } from './admin/DeploymentGroups';
import { AdminUsers } from './admin/Users';
import { AdminGroups } from './admin/Groups';
import { AdminTokens } from './admin/Tokens';
import { ServiceConnections } from './library/ServiceConnections';
import { OutgoingHooks } from './library/OutgoingHooks';
import { FreezeWindows } from './library/FreezeWindows';
import { TaskLibrary } from './library/TaskLibrary';
import { VariableGroups } from './library/VariableGroups';
import { SecureFiles } from './library/SecureFiles';
import { ImportDefinitions } from './library/ImportDefinitions';

export type Section = {
  // Which index lists it: the Library's or the Administration's.
  area: 'library' | 'admin';
  // The page's URL.
  path: string;
  label: string;
  // One line saying what the page is for (its area's index lists it).
  about: string;
  // The API field ("Query.users", "Mutation.saveAgentPool") whose permission offers the page:
  // the root field the page reads or, for a page that only writes, the mutation it calls.
  needs: string;
  view: ComponentType;
};

export const sections: Section[] = [
  // The library.
  { area: 'library', path: '/admin/service-connections', label: 'Service connections', about: 'CI servers, SSH hosts, registries and clusters, with write-only secrets', needs: 'Query.serviceConnections', view: ServiceConnections },
  { area: 'library', path: '/admin/hooks', label: 'Outgoing hooks', about: 'HTTP endpoints that receive events, and their delivery log', needs: 'Query.outgoingHooks', view: OutgoingHooks },
  { area: 'library', path: '/admin/freeze-windows', label: 'Freeze windows', about: 'When deployments wait or are refused, and where', needs: 'Query.freezeWindows', view: FreezeWindows },
  { area: 'library', path: '/admin/task-library', label: 'Task library', about: 'Task templates and task groups with their inputs', needs: 'Query.taskTemplates', view: TaskLibrary },
  { area: 'library', path: '/admin/variable-groups', label: 'Variable groups', about: 'Variables shared by definitions; secret values are write-only', needs: 'Query.variableGroups', view: VariableGroups },
  { area: 'library', path: '/admin/secure-files', label: 'Secure files', about: 'Files jobs receive (certificates, keys); never downloadable', needs: 'Query.secureFiles', view: SecureFiles },
  { area: 'library', path: '/admin/import', label: 'Import from Azure', about: 'Azure DevOps classic release definitions: a report, then the import', needs: 'Mutation.importDefinitions', view: ImportDefinitions },
  // Agents, pools, deployment groups.
  { area: 'admin', path: '/admin/agents', label: 'Agents', about: 'Agents with their capabilities: enable, disable, move, delete; registration tokens.', needs: 'Mutation.setAgentEnabled', view: AdminAgents },
  { area: 'admin', path: '/admin/pools', label: 'Agent pools', about: 'Agent pools and who may name them in a definition.', needs: 'Mutation.saveAgentPool', view: AdminPools },
  { area: 'admin', path: '/admin/deployment-groups', label: 'Deployment groups', about: 'Deployment groups, their targets with tags and state, target registration.', needs: 'Mutation.saveDeploymentGroup', view: AdminDeploymentGroups },
  // People and their tokens.
  { area: 'admin', path: '/admin/users', label: 'Users', about: 'Users: create, roles, passwords, disable.', needs: 'Query.users', view: AdminUsers },
  { area: 'admin', path: '/admin/groups', label: 'Groups', about: 'Groups and their members.', needs: 'Query.groups', view: AdminGroups },
  { area: 'admin', path: '/admin/tokens', label: 'API tokens', about: 'Your API tokens and other users\u2019 (scopes, expiry, revoke).', needs: 'Query.userApiTokens', view: AdminTokens },
];

export const librarySections = sections.filter((s) => s.area === 'library');
export const adminSections = sections.filter((s) => s.area === 'admin');
// sectionNeeds are the fields to ask mayCall about.
export const libraryNeeds = librarySections.map((s) => s.needs);
export const adminNeeds = adminSections.map((s) => s.needs);
