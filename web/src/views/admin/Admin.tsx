// The Administration area: an index of the sections the viewer may use, and each section's page
// under a sub-navigation. Which sections exist is ../sections.ts.
import { Link } from '../../router';
import { Loading, Page } from '../../ui';
import { adminSections, adminNeeds } from '../sections';

// adminNeeds is what the shell asks viewer.mayCall to decide whether to offer Administration.
export { adminNeeds };

export function isAdminPath(path: string): boolean {
  return path === '/admin' || path.startsWith('/admin/');
}

// Admin renders the Administration page at path; may is the viewer's permitted fields
// (undefined while the server has not answered).
export function Admin({ path, may }: { path: string; may?: Set<string> }) {
  if (!may) return <Page title="Administration"><Loading what="administration" /></Page>;
  const allowed = adminSections.filter((s) => may.has(s.needs));
  const here = path.replace(/\/+$/, '');
  if (here === '/admin' && allowed.length > 0) {
    return (
      <Page title="Administration">
        <ul className="plain admin-index">
          {allowed.map((s) => (
            <li key={s.path}><Link href={s.path}>{s.label}</Link> <span className="small">{s.about}</span></li>
          ))}
        </ul>
      </Page>
    );
  }
  const section = allowed.find((s) => here === s.path);
  if (!section) return <Page title="Not found"><p>No such page. <Link href="/">Go to the overview</Link>.</p></Page>;
  const View = section.view;
  return (
    <>
      <nav className="subnav" aria-label="Administration">
        <ul>
          <li><Link href="/admin">Administration</Link></li>
          {allowed.map((s) => (
            <li key={s.path}><Link href={s.path} aria-current={s === section ? 'page' : undefined}>{s.label}</Link></li>
          ))}
        </ul>
      </nav>
      <View />
    </>
  );
}
