// The library and administration sections this directory adds to the dashboard: each is a
// page offered to those the server would answer (viewer.mayCall on `field`, the page's query).
import type { ComponentType } from 'react';
import { ServiceConnections } from './ServiceConnections';
import { OutgoingHooks } from './OutgoingHooks';
import { FreezeWindows } from './FreezeWindows';
import { TaskLibrary } from './TaskLibrary';
import { VariableGroups } from './VariableGroups';
import { SecureFiles } from './SecureFiles';
import { ImportDefinitions } from './ImportDefinitions';

export type AdminSection = {
  path: string;
  title: string;
  summary: string;
  // The root field the page reads (or, for a page that only writes, the mutation it calls).
  field: string;
  view: ComponentType;
};

export const librarySections: AdminSection[] = [
  { path: '/admin/service-connections', title: 'Service connections', summary: 'CI servers, SSH hosts, registries and clusters, with write-only secrets', field: 'Query.serviceConnections', view: ServiceConnections },
  { path: '/admin/hooks', title: 'Outgoing hooks', summary: 'HTTP endpoints that receive events, and their delivery log', field: 'Query.outgoingHooks', view: OutgoingHooks },
  { path: '/admin/freeze-windows', title: 'Freeze windows', summary: 'When deployments wait or are refused, and where', field: 'Query.freezeWindows', view: FreezeWindows },
  { path: '/admin/task-library', title: 'Task library', summary: 'Task templates and task groups with their inputs', field: 'Query.taskTemplates', view: TaskLibrary },
  { path: '/admin/variable-groups', title: 'Variable groups', summary: 'Variables shared by definitions; secret values are write-only', field: 'Query.variableGroups', view: VariableGroups },
  { path: '/admin/secure-files', title: 'Secure files', summary: 'Files jobs receive (certificates, keys); never downloadable', field: 'Query.secureFiles', view: SecureFiles },
  { path: '/admin/import', title: 'Import from Azure', summary: 'Azure DevOps classic release definitions: a report, then the import', field: 'Mutation.importDefinitions', view: ImportDefinitions },
];

// libraryFields are the fields to ask mayCall about.
export const libraryFields = librarySections.map((s) => s.field);
