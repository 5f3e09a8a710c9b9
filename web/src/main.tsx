import { StrictMode, useEffect, useState } from 'react';
import { createRoot } from 'react-dom/client';
import './style.css';
import { logout, onUnauthenticated, query, type SignedIn } from './api';
import { startEvents, stopEvents } from './events';
import { useLive } from './hooks';
import type { Viewer } from './permissions';
import { Link, match, useLocation } from './router';
import { Login } from './views/Login';
import { Overview } from './views/Overview';
import { Release } from './views/Release';
import { DeploymentLog } from './views/DeploymentLog';
import { MyApprovals, isApprovalEvent } from './views/MyApprovals';
import { Definition } from './views/Definition';
import { Revisions } from './views/Revisions';
import { WorkItem } from './views/WorkItem';
import { Agents } from './views/Agents';
import { Audit } from './views/Audit';
import { WebhookDeliveries } from './views/WebhookDeliveries';
import { Releases } from './views/Releases';
import { Deployments } from './views/Deployments';
import { Profile } from './views/Profile';
import { Admin, adminNeeds, isAdminPath } from './views/admin/Admin';
import { Designer } from './views/designer/Designer';
import { useMayCall } from './may';
import { librarySections, libraryNeeds } from './views/sections';
import { LibraryIndex } from './views/library/LibraryIndex';
import { Page } from './ui';
import { graphql } from './gql';

const viewerQuery = graphql(`query Viewer { viewer { role user { username displayName } } }`);
const pendingCountQuery = graphql(`query PendingCount { pendingApprovals { id } pendingManualInterventions { id } }`);

function App() {
  const [viewer, setViewer] = useState<Viewer | null | undefined>(undefined);

  useEffect(() => {
    query(viewerQuery).then(
      (d) => setViewer({ username: d.viewer.user.username, role: d.viewer.role }),
      () => setViewer(null),
    );
    return onUnauthenticated(() => setViewer(null));
  }, []);

  useEffect(() => {
    if (!viewer) return;
    startEvents();
    return stopEvents;
  }, [viewer]);

  if (viewer === undefined) return <p role="status">Loading…</p>;
  if (viewer === null) return <Login onSignedIn={(s: SignedIn) => setViewer({ username: s.username, role: s.role as Viewer['role'] })} />;
  return <Shell viewer={viewer} onSignOut={async () => { stopEvents(); await logout(); setViewer(null); }} />;
}

function Shell({ viewer, onSignOut }: { viewer: Viewer; onSignOut: () => void }) {
  const loc = useLocation();
  const path = loc.pathname;
  const pending = useLive(pendingCountQuery, {}, isApprovalEvent);
  const count = (pending.data?.pendingApprovals.length ?? 0) + (pending.data?.pendingManualInterventions.length ?? 0);
  // Pages for some people only: offered when the server would answer their query.
  const may = useMayCall('Query.auditEvents', 'Query.webhookDeliveries', ...libraryNeeds, ...adminNeeds);
  const section = librarySections.find((s) => s.path === path.replace(/\/+$/, ''));
  const library = librarySections.some((s) => may?.has(s.needs));

  // Move focus to the new page's heading, so keyboard and screen reader users land on it.
  useEffect(() => {
    document.getElementById('page-title')?.focus();
  }, [path]);

  let view;
  let m: Record<string, string> | null;
  if (path === '/' || path === '') view = <Overview />;
  else if ((m = match('/releases/:id', path))) view = <Release id={m.id} />;
  else if ((m = match('/deployments/:id', path))) view = <DeploymentLog id={m.id} />;
  else if (path === '/approvals') view = <MyApprovals />;
  else if (path === '/definitions/new') view = <Designer key="new" />;
  else if ((m = match('/definitions/:id/edit', path))) view = <Designer key={m.id} id={m.id} />;
  else if ((m = match('/definitions/:id/revisions', path))) view = <Revisions id={m.id} />;
  else if ((m = match('/definitions/:id', path))) view = <Definition id={m.id} />;
  else if ((m = match('/workitems/:system/:id', path))) view = <WorkItem system={m.system} externalId={m.id} />;
  else if (path === '/agents') view = <Agents />;
  else if (path === '/releases') view = <Releases />;
  else if (path === '/deployments') view = <Deployments />;
  else if (path === '/profile') view = <Profile />;
  else if (section && may?.has(section.needs)) view = <section.view />;
  else if (isAdminPath(path) && !section) view = <Admin path={path} may={may} />;
  else if (path === '/audit' && may?.has('Query.auditEvents')) view = <Audit />;
  else if (path === '/webhook-deliveries' && may?.has('Query.webhookDeliveries')) view = <WebhookDeliveries />;
  else if (path === '/library' && library) view = <LibraryIndex may={may!} />;
  else if ((path === '/audit' || path === '/webhook-deliveries' || path === '/library' || section) && !may) view = <Page title="Loading"><p role="status">Loading…</p></Page>;
  else view = <Page title="Not found"><p>No such page. <Link href="/">Go to the overview</Link>.</p></Page>;

  const nav = (href: string, label: string, extra?: string) => (
    <li><Link href={href} aria-current={path === href ? 'page' : undefined}>{label}{extra}</Link></li>
  );
  return (
    <>
      <a className="skip" href="#main">Skip to content</a>
      <header className="top">
        <Link href="/" className="brand">Cairn</Link>
        <nav aria-label="Main">
          <ul>
            {nav('/', 'Overview')}
            {nav('/approvals', 'My approvals', count ? ` (${count})` : '')}
            {nav('/agents', 'Agents')}
            {nav('/releases', 'Releases')}
            {nav('/deployments', 'Deployments')}
            {may?.has('Query.webhookDeliveries') && nav('/webhook-deliveries', 'Webhooks')}
            {may?.has('Query.auditEvents') && nav('/audit', 'Audit log')}
            {library && <li><Link href="/library" aria-current={path === '/library' || section ? 'page' : undefined}>Library</Link></li>}
            {adminNeeds.some((f) => may?.has(f)) && <li><Link href="/admin" aria-current={isAdminPath(path) ? 'page' : undefined}>Administration</Link></li>}
            <li><a href="/graphql">GraphiQL</a></li>
          </ul>
        </nav>
        <div className="me">
          <Link href="/profile" title="Your profile" aria-current={path === '/profile' ? 'page' : undefined}>{viewer.username}</Link>
          <button type="button" onClick={onSignOut}>Sign out</button>
        </div>
      </header>
      <main id="main">{view}</main>
    </>
  );
}

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
