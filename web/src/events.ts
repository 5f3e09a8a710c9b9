// Live updates: one set of subscriptions for the whole dashboard (release,
// approval and agent events). Views register what they care about and re-read
// their data when a matching event arrives; a reconnect re-reads everything
// (events may have been missed). No polling.
import { onReconnect, subscribe } from './api';

export type CairnEvent = {
  __typename: string;
  sequence?: number;
  type?: string;
  definitionId?: string;
  releaseId?: string;
  environment?: string;
  deploymentId?: string;
  approvalId?: string;
  agentId?: string;
  status?: string;
};

const common = 'sequence type';
const releaseEvents = `subscription {
  releaseEvents {
    __typename
    ... on ReleaseCreatedEvent { ${common} definitionId releaseId }
    ... on ReleaseAbandonedEvent { ${common} definitionId releaseId }
    ... on EnvironmentStatusChangedEvent { ${common} definitionId releaseId environment status deploymentId }
    ... on DeploymentStartedEvent { ${common} definitionId releaseId environment deploymentId status }
    ... on DeploymentFinishedEvent { ${common} definitionId releaseId environment deploymentId status }
    ... on ApprovalPendingEvent { ${common} definitionId releaseId environment deploymentId approvalId }
    ... on ApprovalDecidedEvent { ${common} definitionId releaseId environment deploymentId approvalId status }
    ... on ApprovalTimedOutEvent { ${common} definitionId releaseId environment deploymentId approvalId status }
    ... on ApprovalReassignedEvent { ${common} definitionId releaseId environment deploymentId approvalId status }
    ... on JobLostEvent { ${common} lostDefinitionId: definitionId lostReleaseId: releaseId environment deploymentId }
  }
}`;
const agentEvents = `subscription { agentEvents { __typename ... on AgentStatusEvent { ${common} agentId status } } }`;

type Listener = (ev: CairnEvent) => void;
const listeners = new Set<Listener>();
let stop: (() => void) | null = null;

// RECONNECTED matches every view's interest.
export const RECONNECTED: CairnEvent = { __typename: 'Reconnected' };

export function startEvents() {
  if (stop) return;
  const emit = (ev: CairnEvent) => listeners.forEach((l) => l(ev));
  const failed = (what: string) => (err?: Error) => err && console.warn(`${what} subscription failed: ${err.message}`);
  // JobLostEvent's ids are nullable, so they come under other names (a GraphQL rule).
  const normalise = (ev: CairnEvent & { lostDefinitionId?: string; lostReleaseId?: string }): CairnEvent =>
    ev.__typename === 'JobLostEvent' ? { ...ev, definitionId: ev.lostDefinitionId, releaseId: ev.lostReleaseId } : ev;
  const a = subscribe<{ releaseEvents: CairnEvent }>(releaseEvents, {}, (d) => emit(normalise(d.releaseEvents)), failed('release events'));
  const b = subscribe<{ agentEvents: CairnEvent }>(agentEvents, {}, (d) => emit(d.agentEvents), failed('agent events'));
  const c = onReconnect(() => emit(RECONNECTED));
  stop = () => {
    a();
    b();
    c();
  };
}

export function stopEvents() {
  stop?.();
  stop = null;
}

export function onEvent(l: Listener): () => void {
  listeners.add(l);
  return () => listeners.delete(l);
}
