// The overview on a narrow screen: the matrix scrolls sideways with the
// definition column kept (dialogs.css), and an environment cell that waits
// for the viewer (an approval or manual intervention they may decide) but is
// scrolled out of sight is named above the matrix, with a button that brings
// it into view.
import { useEffect, useState, type RefObject } from 'react';
import { useLive } from '../hooks';
import { graphql } from '../gql';
import { isApprovalEvent } from './MyApprovals';

const waitingQuery = graphql(`query WaitingForViewer {
  pendingApprovals { id deployment { id } }
  pendingManualInterventions { id deployment { id } }
}`);

// useWaitingForViewer returns the ids of the deployments that wait for the viewer.
export function useWaitingForViewer(): Set<string> {
  const q = useLive(waitingQuery, {}, isApprovalEvent);
  const ids = [...(q.data?.pendingApprovals ?? []), ...(q.data?.pendingManualInterventions ?? [])].map((x) => x.deployment.id);
  return new Set(ids);
}

type Hidden = { key: string; label: string };

// HiddenWaiting names the cells marked data-waits-viewer that lie outside the scroll box.
export function HiddenWaiting({ box }: { box: RefObject<HTMLDivElement | null> }) {
  const [hidden, setHidden] = useState<Hidden[]>([]);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    let frame = 0;
    const check = () => {
      cancelAnimationFrame(frame);
      frame = requestAnimationFrame(() => {
        const r = el.getBoundingClientRect();
        const first = el.querySelector('th[scope="row"]')?.getBoundingClientRect().width ?? 0;
        const out: Hidden[] = [];
        el.querySelectorAll<HTMLElement>('td[data-waits-viewer]').forEach((td) => {
          const c = td.getBoundingClientRect();
          // Hidden: less than half of it between the kept first column and the box's right edge.
          const seen = Math.min(c.right, r.right) - Math.max(c.left, r.left + first);
          if (seen < c.width / 2) out.push({ key: td.dataset.key ?? '', label: td.dataset.waitsViewer ?? '' });
        });
        setHidden((prev) => (prev.map((h) => h.key).join() === out.map((h) => h.key).join() ? prev : out));
      });
    };
    check();
    el.addEventListener('scroll', check, { passive: true });
    window.addEventListener('resize', check);
    const mo = new MutationObserver(check);
    mo.observe(el, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-waits-viewer'] });
    return () => {
      cancelAnimationFrame(frame);
      el.removeEventListener('scroll', check);
      window.removeEventListener('resize', check);
      mo.disconnect();
    };
  }, [box]);
  if (hidden.length === 0) return null;
  const show = (key: string) => {
    const td = box.current?.querySelector<HTMLElement>(`td[data-key="${CSS.escape(key)}"]`);
    td?.scrollIntoView({ inline: 'center', block: 'nearest' });
    td?.querySelector<HTMLElement>('a')?.focus({ preventScroll: true });
  };
  return (
    <div className="hidden-waiting" role="status" data-hidden-waiting>
      {hidden.map((h) => (
        <p key={h.key}>
          <span aria-hidden="true">→ </span>{h.label} waits for you, out of sight. <button type="button" onClick={() => show(h.key)}>Show {h.label}</button>
        </p>
      ))}
    </div>
  );
}
