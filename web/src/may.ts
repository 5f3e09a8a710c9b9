// What the signed-in person may call, asked of the server (viewer.mayCall: the same role check
// the API makes before running a field), so that pages and actions are offered only to those
// the server would allow, with no list of roles in the client.
import { useEffect, useState } from 'react';
import { query } from './api';
import { graphql } from './gql';

const mayCallQuery = graphql(`query MayCall($fields: [String!]!) { viewer { mayCall(fields: $fields) } }`);

// useMayCall returns the subset of fields ("Query.auditEvents", "Mutation.x") the viewer may
// call, or undefined while the server has not answered (nothing is offered meanwhile).
export function useMayCall(...fields: string[]): Set<string> | undefined {
  const [may, setMay] = useState<Set<string>>();
  const key = fields.join(',');
  useEffect(() => {
    let live = true;
    query(mayCallQuery, { fields: key.split(',') }).then(
      (d) => live && setMay(new Set(d.viewer.mayCall)),
      () => live && setMay(new Set()),
    );
    return () => {
      live = false;
    };
  }, [key]);
  return may;
}
