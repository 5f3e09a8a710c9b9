// Live updates: one set of subscriptions for the whole dashboard (release,
// approval and agent events). Views register what they care about and re-read
// their data when a matching event arrives; a reconnect re-reads everything
// (events may have been missed). No polling.
import { onReconnect, subscribe } from './api';
import { graphql } from './gql';
import type { ReleaseEventsSubscription } from './gql/graphql';

// CairnEvent is what views match on: any release or agent event, its fields
// (from the generated types) optional, JobLostEvent's nullable ids under
// their common names.
export type CairnEvent = {
  __typename: string;
  sequence?: number;
  type?: string;
  definitionId?: string | null;
  releaseId?: string | null;
  environment?: string;
  deploymentId?: string | null;
  approvalId?: string;
  agentId?: string;
  status?: string;
};

// The documents are literal (no interpolation), so that codegen can read them.
const releaseEvents = graphql(`subscription ReleaseEvents {
  releaseEvents {
    __typename
    ... on ReleaseCreatedEvent { sequence type definitionId releaseId }
    ... on ReleaseAbandonedEvent { sequence type definitionId releaseId }
    ... on EnvironmentStatusChangedEvent { sequence type definitionId releaseId environment status deploymentId }
    ... on DeploymentStartedEvent { sequence type definitionId releaseId environment deploymentId status }
    ... on DeploymentFinishedEvent { sequence type definitionId releaseId environment deploymentId status }
    ... on ApprovalPendingEvent { sequence type definitionId releaseId environment deploymentId approvalId }
    ... on ApprovalDecidedEvent { sequence type definitionId releaseId environment deploymentId approvalId status }
    ... on ApprovalTimedOutEvent { sequence type definitionId releaseId environment deploymentId approvalId status }
    ... on ApprovalReassignedEvent { sequence type definitionId releaseId environment deploymentId approvalId status }
    ... on JobLostEvent { sequence type lostDefinitionId: definitionId lostReleaseId: releaseId environment deploymentId }
    ... on GateSampleFailedEvent { sequence type definitionId releaseId environment deploymentId }
    ... on ManualInterventionPendingEvent { sequence type definitionId releaseId environment deploymentId }
    ... on ManualInterventionDecidedEvent { sequence type definitionId releaseId environment deploymentId }
    ... on FreezeStartedEvent { sequence type freezeDefinitionId: definitionId }
    ... on FreezeEndedEvent { sequence type freezeDefinitionId: definitionId }
  }
}`);
const agentEvents = graphql(`subscription AgentEvents { agentEvents { __typename ... on AgentStatusEvent { sequence type agentId status } } }`);

// Users and groups changing: for the administration pages only (ADMINs), followed while one of
// them is shown (followIdentity).
const identityEvents = graphql(`subscription IdentityEvents { identityEvents { __typename targetType targetId action } }`);

type Listener = (ev: CairnEvent) => void;
const listeners = new Set<Listener>();
const emitAll = (ev: CairnEvent) => listeners.forEach((l) => l(ev));
let stop: (() => void) | null = null;

// RECONNECTED matches every view's interest.
export const RECONNECTED: CairnEvent = { __typename: 'Reconnected' };

export function startEvents() {
  if (stop) return;
  const emit = emitAll;
  const failed = (what: string) => (err?: Error) => err && console.warn(`${what} subscription failed: ${err.message}`);
  // JobLostEvent's ids are nullable, so they come under other names (a GraphQL rule).
  const normalise = (ev: ReleaseEventsSubscription['releaseEvents']): CairnEvent =>
    ev.__typename === 'JobLostEvent' ? { ...ev, definitionId: ev.lostDefinitionId, releaseId: ev.lostReleaseId } : ev;
  const a = subscribe(releaseEvents, {}, (d) => emit(normalise(d.releaseEvents)), failed('release events'));
  const b = subscribe(agentEvents, {}, (d) => emit(d.agentEvents), failed('agent events'));
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

let identityStop: (() => void) | null = null;
let identityFollowers = 0;

// followIdentity follows the changes of users and groups (IdentityChangedEvent to onEvent's
// listeners) until the returned function is called by every page that asked.
export function followIdentity(): () => void {
  identityFollowers++;
  if (!identityStop) {
    identityStop = subscribe(identityEvents, {}, (d) => emitAll(d.identityEvents),
      (err) => err && console.warn(`identity events subscription failed: ${err.message}`));
  }
  return () => {
    if (--identityFollowers === 0) {
      identityStop?.();
      identityStop = null;
    }
  };
}
