// The definitions the viewer may read, with their environments: the pickers of the freeze
// window and hook forms. (Which definitions use a library item is the item's usedBy, read on
// the server.)
import { useLive } from '../../hooks';
import { graphql } from '../../gql';
import { edges } from '../../ui';

const definitionsQuery = graphql(`query LibraryDefinitions {
  definitions(first: 100, orderBy: {field: NAME, direction: ASC}) {
    totalCount
    edges { node { id name environments { name rank } } }
  }
}`);

export type Def = { id: string; name: string; environments: string[] };

// useDefinitions returns the definitions (at most 100, by name) and how many there are.
export function useDefinitions(): { defs: Def[]; total: number; loaded: boolean } {
  const q = useLive(definitionsQuery, {}, () => false);
  const defs = edges(q.data?.definitions).map((d): Def => ({
    id: d.id,
    name: d.name,
    environments: [...(d.environments ?? [])].sort((a, b) => a.rank - b.rank).map((e) => e.name),
  }));
  return { defs, total: q.data?.definitions.totalCount ?? 0, loaded: !!q.data };
}
