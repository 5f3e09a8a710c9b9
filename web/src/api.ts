// The dashboard's one connection to Cairn: GraphQL over HTTP (urql) for
// queries and mutations, graphql-ws for subscriptions. Both authenticate
// with the session cookie; HTTP requests echo the CSRF token.
//
// Every document is a typed one, from graphql() in ./gql (generated from the
// server's schema by `npm run codegen`): its data and variables are checked
// by the compiler, so no view keeps its own copy of the API's types.
import { Client, fetchExchange, type AnyVariables } from '@urql/core';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import { createClient as createWSClient, type Client as WSClient } from 'graphql-ws';
import { csrfToken, wsURL } from './csrf';

export type { TypedDocumentNode };

let ws: WSClient | null = null;
let client: Client | null = null;
const reconnectListeners = new Set<() => void>();

function makeWS(): WSClient {
  let connectedBefore = false;
  const c = createWSClient({
    url: wsURL(),
    lazy: false,
    retryAttempts: Infinity,
    shouldRetry: () => true,
    // A reconnect may have missed events: views re-read what they show.
    on: {
      connected: () => {
        if (connectedBefore) reconnectListeners.forEach((f) => f());
        connectedBefore = true;
      },
    },
  });
  return c;
}

// api returns the client of the signed-in session (created on first use).
export function api(): Client {
  if (client) return client;
  ws = makeWS();
  client = new Client({
    url: '/graphql',
    requestPolicy: 'network-only',
    preferGetMethod: false,
    fetchOptions: () => ({ credentials: 'same-origin', headers: { 'X-CSRF-Token': csrfToken() } }),
    // urql aborts a request's controller when its operation ends, even after
    // the response arrived, which Chromium reports as an unhandled AbortError;
    // stale answers are dropped by the views (useLive), so requests are not
    // aborted.
    fetch: (input, init) => fetch(input, { ...init, signal: undefined }),
    exchanges: [fetchExchange],
  });
  return client;
}

// resetAPI closes the connections (at sign-out and sign-in).
export function resetAPI() {
  ws?.dispose();
  ws = null;
  client = null;
}

export function onReconnect(f: () => void): () => void {
  reconnectListeners.add(f);
  return () => reconnectListeners.delete(f);
}

export class APIError extends Error {
  constructor(
    message: string,
    public code: string,
    public status = 0,
    // The input field an INVALID_INPUT names (extensions.field), shown beside that field.
    public field?: string,
  ) {
    super(message);
  }
}

function toError(err: import('@urql/core').CombinedError): APIError {
  const status = (err.response as Response | undefined)?.status ?? 0;
  if (status === 401) return new APIError('Your session ended: sign in again.', 'UNAUTHENTICATED', 401);
  const g = err.graphQLErrors[0];
  if (g) return new APIError(g.message, String(g.extensions?.code ?? 'ERROR'), status, typeof g.extensions?.field === 'string' ? g.extensions.field : undefined);
  return new APIError(err.networkError?.message ?? err.message, 'NETWORK', status);
}

const unauthListeners = new Set<() => void>();
export function onUnauthenticated(f: () => void): () => void {
  unauthListeners.add(f);
  return () => unauthListeners.delete(f);
}

export async function query<D, V extends AnyVariables>(doc: TypedDocumentNode<D, V>, vars?: V): Promise<D> {
  const res = await api().query(doc, vars as V).toPromise();
  if (res.error) {
    const e = toError(res.error);
    if (e.status === 401) unauthListeners.forEach((f) => f());
    throw e;
  }
  return res.data as D;
}

export async function mutate<D, V extends AnyVariables>(doc: TypedDocumentNode<D, V>, vars?: V): Promise<D> {
  const res = await api().mutation(doc, vars as V).toPromise();
  if (res.error) {
    const e = toError(res.error);
    if (e.status === 401) unauthListeners.forEach((f) => f());
    throw e;
  }
  return res.data as D;
}

// subscribe runs a subscription over graphql-ws until the returned function
// is called; done is called when the server ends it (with the error, if any).
export function subscribe<D, V extends Record<string, unknown>>(doc: TypedDocumentNode<D, V>, vars: V, next: (d: D) => void, done?: (err?: Error) => void): () => void {
  api();
  return ws!.subscribe<D>({ query: print(doc), variables: vars }, {
    next: (res) => {
      if (res.errors?.length) done?.(new APIError(res.errors[0].message, String(res.errors[0].extensions?.code ?? 'ERROR')));
      else if (res.data) next(res.data as D);
    },
    error: (err) => done?.(err instanceof Error ? err : new Error(err instanceof CloseEvent ? `connection closed (${err.code} ${err.reason})` : String(err))),
    complete: () => done?.(),
  });
}

// Sign-in and sign-out (cookies set and cleared by the server).

export type SignedIn = { username: string; role: string };

export async function login(username: string, password: string): Promise<SignedIn> {
  const res = await fetch('/auth/login', {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new APIError(body?.error?.message ?? `sign-in failed (${res.status})`, body?.error?.code ?? 'ERROR', res.status);
  resetAPI();
  return body as SignedIn;
}

export async function logout(): Promise<void> {
  await fetch('/auth/logout', { method: 'POST', credentials: 'same-origin', headers: { 'X-CSRF-Token': csrfToken() } });
  resetAPI();
}
