import { Link } from '../../router';
import { Page } from '../../ui';
import { librarySections } from './librarySections';

// LibraryIndex lists the library and administration sections the viewer may open.
export function LibraryIndex({ may }: { may: Set<string> }) {
  const shown = librarySections.filter((s) => may.has(s.field));
  return (
    <Page title="Library">
      {shown.length === 0 ? <p>Nothing here for you.</p> : (
        <ul className="sections">
          {shown.map((s) => (
            <li key={s.path} data-section={s.path}>
              <Link href={s.path}>{s.title}</Link>
              <p className="small">{s.summary}</p>
            </li>
          ))}
        </ul>
      )}
    </Page>
  );
}
