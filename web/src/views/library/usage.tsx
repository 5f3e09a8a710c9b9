// The definitions the viewer may read, with their environments and what each links from the
// library (variable groups, secure files), read from their current revision: which definitions
// use a group or file, and the pickers of the freeze window and hook forms.
import { useLive } from '../../hooks';
import { graphql } from '../../gql';
import { edges } from '../../ui';

const definitionsQuery = graphql(`query LibraryDefinitions {
  definitions(first: 50, orderBy: {field: NAME, direction: ASC}) {
    totalCount
    edges { node {
      id name
      environments { name rank job { secureFiles } }
      revisions(first: 1, orderBy: {field: REVISION, direction: DESC}) { edges { node { snapshot { variableGroups environments { name variableGroups } } } } }
    } }
  }
}`);

export type Def = { id: string; name: string; environments: string[]; groups: string[]; envGroups: Record<string, string[]>; files: Record<string, string[]> };

// useDefinitions returns the definitions (at most 50, by name) and how many there are.
export function useDefinitions(): { defs: Def[]; total: number; loaded: boolean } {
  const q = useLive(definitionsQuery, {}, () => false);
  const defs = edges(q.data?.definitions).map((d): Def => {
    const snap = edges(d.revisions)[0]?.snapshot;
    const envs = [...(d.environments ?? [])].sort((a, b) => a.rank - b.rank);
    return {
      id: d.id,
      name: d.name,
      environments: envs.map((e) => e.name),
      groups: snap?.variableGroups ?? [],
      envGroups: Object.fromEntries((snap?.environments ?? []).map((e) => [e.name, e.variableGroups])),
      files: Object.fromEntries(envs.map((e) => [e.name, e.job.secureFiles ?? []])),
    };
  });
  return { defs, total: q.data?.definitions.totalCount ?? 0, loaded: !!q.data };
}

// usersOf says which definitions (and environments) link group or file name.
export function usersOf(defs: Def[], what: 'group' | 'file', name: string): string[] {
  const out: string[] = [];
  for (const d of defs) {
    if (what === 'group' && d.groups.includes(name)) {
      out.push(d.name);
      continue;
    }
    const envs = d.environments.filter((e) => (what === 'group' ? d.envGroups[e] ?? [] : d.files[e] ?? []).includes(name));
    if (envs.length) out.push(`${d.name} (${envs.join(', ')})`);
  }
  return out;
}
