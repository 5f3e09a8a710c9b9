import { Link } from '../../router';
import { Page } from '../../ui';
import { librarySections } from '../sections';

// LibraryIndex lists the library and administration sections the viewer may open.
export function LibraryIndex({ may }: { may: Set<string> }) {
  const shown = librarySections.filter((s) => may.has(s.needs));
  return (
    <Page title="Library">
      {shown.length === 0 ? <p>Nothing here for you.</p> : (
        <ul className="sections">
          {shown.map((s) => (
            <li key={s.path} data-section={s.path}>
              <Link href={s.path}>{s.label}</Link>
              <p className="small">{s.about}</p>
            </li>
          ))}
        </ul>
      )}
    </Page>
  );
}
