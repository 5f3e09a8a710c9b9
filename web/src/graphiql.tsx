// GraphiQL served by Cairn itself, with no CDN: its code and styles are in
// the bundle. Requests carry the dashboard's session cookie and CSRF token
// when signed in; otherwise put {"Authorization": "Bearer <token>"} in the
// headers editor.
import { createRoot } from 'react-dom/client';
import { GraphiQL } from 'graphiql';
import { createGraphiQLFetcher } from '@graphiql/toolkit';
import 'graphiql/graphiql.css';
import { csrfToken, wsURL } from './csrf';

const fetcher = createGraphiQLFetcher({
  url: '/graphql',
  subscriptionUrl: wsURL(),
  headers: csrfToken() ? { 'X-CSRF-Token': csrfToken() } : {},
  fetch: (input, init) => fetch(input, { ...init, credentials: 'same-origin' }),
});

createRoot(document.getElementById('graphiql')!).render(
  <GraphiQL fetcher={fetcher} defaultEditorToolsVisibility="headers" />,
);
