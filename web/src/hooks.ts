import { useCallback, useEffect, useRef, useState } from 'react';
import { query, APIError, type TypedDocumentNode } from './api';
import { onEvent, RECONNECTED, type CairnEvent } from './events';

export type Live<T> = { data?: T; error?: APIError; loading: boolean; reload: () => void };

// useLive runs a query and runs it again whenever an event that `matches`
// arrives (bursts coalesced), so the view follows the server without polling.
// doc is a typed document (graphql() in ./gql), so the data is typed by the schema.
export function useLive<T, V extends Record<string, unknown>>(doc: TypedDocumentNode<T, V>, vars: V, matches: (ev: CairnEvent) => boolean): Live<T> {
  const [state, setState] = useState<{ data?: T; error?: APIError; loading: boolean }>({ loading: true });
  const key = JSON.stringify(vars);
  const gen = useRef(0);
  const matchRef = useRef(matches);
  matchRef.current = matches;

  const load = useCallback(() => {
    const g = ++gen.current;
    query(doc, JSON.parse(key) as V).then(
      (data) => g === gen.current && setState({ data, loading: false }),
      (error: APIError) => g === gen.current && setState((s) => ({ data: s.data, error, loading: false })),
    );
  }, [doc, key]);

  useEffect(() => {
    setState({ loading: true });
    load();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const off = onEvent((ev) => {
      if (ev !== RECONNECTED && !matchRef.current(ev)) return;
      if (timer) return;
      timer = setTimeout(() => {
        timer = undefined;
        load();
      }, 100);
    });
    return () => {
      off();
      if (timer) clearTimeout(timer);
      gen.current++;
    };
  }, [load]);

  return { ...state, reload: load };
}
