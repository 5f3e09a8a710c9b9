/* eslint-disable */
import * as types from './graphql';
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';

/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "subscription ReleaseEvents {\n  releaseEvents {\n    __typename\n    ... on ReleaseCreatedEvent { sequence type definitionId releaseId }\n    ... on ReleaseAbandonedEvent { sequence type definitionId releaseId }\n    ... on EnvironmentStatusChangedEvent { sequence type definitionId releaseId environment status deploymentId }\n    ... on DeploymentStartedEvent { sequence type definitionId releaseId environment deploymentId status }\n    ... on DeploymentFinishedEvent { sequence type definitionId releaseId environment deploymentId status }\n    ... on ApprovalPendingEvent { sequence type definitionId releaseId environment deploymentId approvalId }\n    ... on ApprovalDecidedEvent { sequence type definitionId releaseId environment deploymentId approvalId status }\n    ... on ApprovalTimedOutEvent { sequence type definitionId releaseId environment deploymentId approvalId status }\n    ... on ApprovalReassignedEvent { sequence type definitionId releaseId environment deploymentId approvalId status }\n    ... on JobLostEvent { sequence type lostDefinitionId: definitionId lostReleaseId: releaseId environment deploymentId }\n    ... on GateSampleFailedEvent { sequence type definitionId releaseId environment deploymentId }\n    ... on ManualInterventionPendingEvent { sequence type definitionId releaseId environment deploymentId }\n    ... on ManualInterventionDecidedEvent { sequence type definitionId releaseId environment deploymentId }\n    ... on FreezeStartedEvent { sequence type freezeDefinitionId: definitionId }\n    ... on FreezeEndedEvent { sequence type freezeDefinitionId: definitionId }\n  }\n}": typeof types.ReleaseEventsDocument,
    "subscription AgentEvents { agentEvents { __typename ... on AgentStatusEvent { sequence type agentId status } } }": typeof types.AgentEventsDocument,
    "query Viewer { viewer { role user { username displayName } } }": typeof types.ViewerDocument,
    "query PendingCount { pendingApprovals { id } pendingManualInterventions { id } }": typeof types.PendingCountDocument,
    "query MayCall($fields: [String!]!) { viewer { mayCall(fields: $fields) } }": typeof types.MayCallDocument,
    "query Agents {\n  agents(first: 200, orderBy: {field: NAME, direction: ASC}) {\n    edges { node { id name version enabled online lastSeenAt maxJobs pool { name } capabilities } }\n  }\n  releases(first: 50, where: {hasEnvironmentsWith: {status: QUEUED}}) {\n    edges { node { id name environments { name status deployments { id status job { status waitingReason demands queuedAt } } } } }\n  }\n}": typeof types.AgentsDocument,
    "mutation Approve($input: ApprovalDecisionInput!) { approve(input: $input) { id status } }": typeof types.ApproveDocument,
    "mutation Reject($input: ApprovalDecisionInput!) { reject(input: $input) { id status } }": typeof types.RejectDocument,
    "mutation Reassign($id: ID!, $to: String!, $comment: String) { reassignApproval(approvalId: $id, toUsername: $to, comment: $comment) { id status } }": typeof types.ReassignDocument,
    "query AuditPage($first: Int, $after: Cursor, $last: Int, $before: Cursor, $where: AuditEventWhereInput, $orderBy: AuditEventOrder) {\n  auditEvents(first: $first, after: $after, last: $last, before: $before, where: $where, orderBy: $orderBy) {\n    totalCount\n    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }\n    edges { node { id sequence time actor onBehalfOf action targetType targetID } }\n  }\n}": typeof types.AuditPageDocument,
    "query Why($rel: ID!, $env: String!) {\n  whyNotDeployed(releaseId: $rel, environment: $env) {\n    releaseName environment status deployed\n    blockers {\n      kind message since until stage whoCanAct viewerActions\n      deployment { id }\n      approvals { approval { id approver approverKind } viewerCanDecide viewerCanReassign }\n      gateSampleCount lastFailingSample { number takenAt results { gate passed detail } }\n      freezeWindows { id name }\n      queuePosition maxParallel queueAhead { releaseName } queueRunning { releaseName }\n      job { id demands waitingReason }\n      intervention { id taskName instructions }\n      environments newerRelease { id name }\n    }\n  }\n}": typeof types.WhyDocument,
    "mutation BlockerDeploy($input: DeployEnvironmentInput!) { deployEnvironment(input: $input) { id } }": typeof types.BlockerDeployDocument,
    "mutation BlockerApprove($input: ApprovalDecisionInput!) { approve(input: $input) { id } }": typeof types.BlockerApproveDocument,
    "mutation BlockerReject($input: ApprovalDecisionInput!) { reject(input: $input) { id } }": typeof types.BlockerRejectDocument,
    "mutation BlockerIgnoreGates($id: ID!) { ignoreGates(deploymentId: $id) { id } }": typeof types.BlockerIgnoreGatesDocument,
    "mutation BlockerResume($id: ID!) { resumeManualIntervention(id: $id) { id } }": typeof types.BlockerResumeDocument,
    "mutation BlockerRejectIntervention($id: ID!) { rejectManualIntervention(id: $id) { id } }": typeof types.BlockerRejectInterventionDocument,
    "mutation BlockerCancel($id: ID!) { cancelDeployment(deploymentId: $id) { id } }": typeof types.BlockerCancelDocument,
    "query Changes($rel: ID!, $env: String!) {\n  changesSince(releaseId: $rel, environment: $env) {\n    current { id name }\n    releases { id name }\n    commits { id sha message author url }\n    workItems { id system externalID title state }\n    removedReleases { id name }\n    removedCommits { id sha message author url }\n    removedWorkItems { id system externalID title state }\n  }\n}": typeof types.ChangesDocument,
    "mutation ConfirmDeploy($input: DeployEnvironmentInput!) { deployEnvironment(input: $input) { id } }": typeof types.ConfirmDeployDocument,
    "mutation ConfirmCancel($id: ID!, $c: String) { cancelDeployment(deploymentId: $id, comment: $c) { id } }": typeof types.ConfirmCancelDocument,
    "mutation ConfirmAbandon($id: ID!, $c: String) { abandonRelease(releaseId: $id, comment: $c) { id } }": typeof types.ConfirmAbandonDocument,
    "query CreateReleaseInfo($id: ID!) {\n  definition(id: $id) {\n    id name\n    variables { name value secret settableAtReleaseTime }\n    artifactSources { alias type job primary branchFilters }\n    environments { name rank trigger { kind environments } variables { name value secret settableAtReleaseTime } }\n  }\n}": typeof types.CreateReleaseInfoDocument,
    "query ArtifactBuilds($id: ID!, $alias: String!) {\n  artifactVersions(definitionId: $id, alias: $alias, first: 20) { buildId buildNumber branch commit result finishedAt admitted }\n}": typeof types.ArtifactBuildsDocument,
    "mutation CreateRelease($input: NewReleaseInput!) { createRelease(input: $input) { id name } }": typeof types.CreateReleaseDocument,
    "query Definition($id: ID!) {\n  definition(id: $id) {\n    id name description revision\n    viewerCan { createReleases }\n    environments { name rank }\n    releases(first: 30, orderBy: {field: CREATED_AT, direction: DESC}) {\n      edges { node { id name status createdAt createdBy environments { id name rank status } } }\n    }\n  }\n}": typeof types.DefinitionDocument,
    "query Deployment($id: ID!) {\n  node(id: $id) { __typename ... on Deployment { id attempt status statusReason viewerCan { cancel } environmentName completedAt release { id name } job { status waitingReason agent { name } }\n    jobs { id phase target logBase logSeq status startedAt finishedAt agent { name }\n      steps { id position name status startedAt finishedAt errorCount warningCount } }\n    targets { id target status resultReason waitingReason startedAt finishedAt } } }\n}": typeof types.DeploymentDocument,
    "subscription LogBatches($id: ID!, $from: Int64, $max: Int) {\n  deploymentLogBatches(deploymentId: $id, fromSeq: $from, maxLines: $max) { fromSeq lastSeq texts steps }\n}": typeof types.LogBatchesDocument,
    "query EnvActs($def: ID!, $dep: ID!, $hasDep: Boolean!) {\n  freezeWindows(definitionId: $def) { id name reason environment mode active activeUntil nextStartsAt }\n  node(id: $dep) @include(if: $hasDep) {\n    ... on Deployment { id gateSamples { id stage number takenAt passed results { gate passed detail } } }\n  }\n}": typeof types.EnvActsDocument,
    "query MyApprovals {\n  pendingApprovals {\n    id stage approver approverKind createdAt dueAt viewerCan { approve reject reassign }\n    deployment { id environmentName requestedBy release { id name definition { id name } } }\n  }\n  pendingManualInterventions {\n    id taskName instructions createdAt timeoutAt onTimeout\n    deployment { id environmentName release { id name definition { id name } } }\n  }\n}": typeof types.MyApprovalsDocument,
    "query Overview {\n  definitions(first: 100, orderBy: {field: NAME, direction: ASC}) {\n    edges { node { id name viewerCan { createReleases } environments { name rank } } }\n  }\n}": typeof types.OverviewDocument,
    "query OverviewRow($id: ID!) {\n  currentDeployments(definitionId: $id) {\n    environment\n    current { id name }\n    latest {\n      id status statusReason updatedAt createdAt\n      release { id name }\n      approvals { id stage status approver approverKind }\n      job { status waitingReason }\n      manualInterventions { status taskName approvers { kind name } }\n    }\n  }\n}": typeof types.OverviewRowDocument,
    "query WaitingForViewer {\n  pendingApprovals { id deployment { id } }\n  pendingManualInterventions { id deployment { id } }\n}": typeof types.WaitingForViewerDocument,
    "query Profile {\n  viewer { role user { id username displayName email hasPassword groups { name } } }\n  myApiTokens { id name createdAt expiresAt revokedAt lastUsedAt scopes }\n}": typeof types.ProfileDocument,
    "mutation ChangeOwnPassword($current: String!, $next: String!) { changePassword(currentPassword: $current, newPassword: $next) }": typeof types.ChangeOwnPasswordDocument,
    "mutation CreateOwnApiToken($input: NewApiTokenInput!) { createApiToken(input: $input) { token apiToken { id name } } }": typeof types.CreateOwnApiTokenDocument,
    "mutation RevokeOwnApiToken($id: ID!) { revokeApiToken(id: $id) { id revokedAt } }": typeof types.RevokeOwnApiTokenDocument,
    "query Release($id: ID!) {\n  release(id: $id) {\n    id name status description createdBy createdAt reason\n    viewerCan { abandon }\n    definition {\n      id name\n      environments { name rank trigger { kind environments } }\n    }\n    artifacts { id alias type buildNumber branch commit buildURL primary }\n    environments {\n      id name rank status\n      viewerCan { deploy redeploy rollback cancel }\n      deployments {\n        id attempt status statusReason operation requestedBy createdAt updatedAt deferredUntil\n        approvals { id stage status approver approverKind decidedBy comment decidedAt rank viewerCan { approve reject reassign } }\n        job { id status waitingReason agent { name } }\n        manualInterventions { id taskName instructions status decidedBy comment timeoutAt onTimeout }\n      }\n    }\n    commits(first: 50) { edges { node { id alias sha message author url } } }\n    workItems(first: 50) { edges { node { id system externalID title type state url } } }\n  }\n  pendingManualInterventions { id }\n}": typeof types.ReleaseDocument,
    "mutation ResumeIntervention($id: ID!, $c: String) { resumeManualIntervention(id: $id, comment: $c) { id status } }": typeof types.ResumeInterventionDocument,
    "mutation RejectIntervention($id: ID!, $c: String) { rejectManualIntervention(id: $id, comment: $c) { id status } }": typeof types.RejectInterventionDocument,
    "query ReleasesPage($first: Int, $after: Cursor, $last: Int, $before: Cursor, $where: ReleaseWhereInput) {\n  releases(first: $first, after: $after, last: $last, before: $before, where: $where, orderBy: {field: CREATED_AT, direction: DESC}) {\n    totalCount\n    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }\n    edges { node {\n      id name status createdBy createdAt reason\n      definition { id name }\n      artifacts { alias branch buildNumber primary }\n      environments { id name status }\n    } }\n  }\n}": typeof types.ReleasesPageDocument,
    "query Revisions($id: ID!) {\n  definitionRevisions(definitionID: $id, first: 100, orderBy: {field: REVISION, direction: DESC}) {\n    edges { node { id revision changeType author comment createdAt } }\n  }\n}": typeof types.RevisionsDocument,
    "query Diff($id: ID!, $from: Int!, $to: Int!) { definitionDiff(id: $id, from: $from, to: $to) { path before after kind } }": typeof types.DiffDocument,
    "query WebhookDeliveriesPage($first: Int, $after: Cursor, $last: Int, $before: Cursor, $where: WebhookDeliveryWhereInput) {\n  webhookDeliveries(first: $first, after: $after, last: $last, before: $before, where: $where, orderBy: {field: CREATED_AT, direction: DESC}) {\n    totalCount\n    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }\n    edges { node {\n      id createdAt source buildKey event result reason statusCode\n      connection { name }\n      releases { id name }\n      redeliveryOf { id }\n      redeliveries { id result }\n    } }\n  }\n}": typeof types.WebhookDeliveriesPageDocument,
    "mutation RedeliverWebhookDelivery($id: ID!) {\n  redeliverWebhookDelivery(id: $id) { id result reason releases { id name } }\n}": typeof types.RedeliverWebhookDeliveryDocument,
    "query WorkItem($system: String!, $id: String!) {\n  workItem(system: $system, externalId: $id) {\n    workItem { title state type url externalID system }\n    deployedTo { definitionId definitionName environment deployedAt status release { id name } introduced { id name } }\n    notDeployedTo { definitionId definitionName environment introduced { id name } current { id name } }\n  }\n}": typeof types.WorkItemDocument,
};
const documents: Documents = {
    "subscription ReleaseEvents {\n  releaseEvents {\n    __typename\n    ... on ReleaseCreatedEvent { sequence type definitionId releaseId }\n    ... on ReleaseAbandonedEvent { sequence type definitionId releaseId }\n    ... on EnvironmentStatusChangedEvent { sequence type definitionId releaseId environment status deploymentId }\n    ... on DeploymentStartedEvent { sequence type definitionId releaseId environment deploymentId status }\n    ... on DeploymentFinishedEvent { sequence type definitionId releaseId environment deploymentId status }\n    ... on ApprovalPendingEvent { sequence type definitionId releaseId environment deploymentId approvalId }\n    ... on ApprovalDecidedEvent { sequence type definitionId releaseId environment deploymentId approvalId status }\n    ... on ApprovalTimedOutEvent { sequence type definitionId releaseId environment deploymentId approvalId status }\n    ... on ApprovalReassignedEvent { sequence type definitionId releaseId environment deploymentId approvalId status }\n    ... on JobLostEvent { sequence type lostDefinitionId: definitionId lostReleaseId: releaseId environment deploymentId }\n    ... on GateSampleFailedEvent { sequence type definitionId releaseId environment deploymentId }\n    ... on ManualInterventionPendingEvent { sequence type definitionId releaseId environment deploymentId }\n    ... on ManualInterventionDecidedEvent { sequence type definitionId releaseId environment deploymentId }\n    ... on FreezeStartedEvent { sequence type freezeDefinitionId: definitionId }\n    ... on FreezeEndedEvent { sequence type freezeDefinitionId: definitionId }\n  }\n}": types.ReleaseEventsDocument,
    "subscription AgentEvents { agentEvents { __typename ... on AgentStatusEvent { sequence type agentId status } } }": types.AgentEventsDocument,
    "query Viewer { viewer { role user { username displayName } } }": types.ViewerDocument,
    "query PendingCount { pendingApprovals { id } pendingManualInterventions { id } }": types.PendingCountDocument,
    "query MayCall($fields: [String!]!) { viewer { mayCall(fields: $fields) } }": types.MayCallDocument,
    "query Agents {\n  agents(first: 200, orderBy: {field: NAME, direction: ASC}) {\n    edges { node { id name version enabled online lastSeenAt maxJobs pool { name } capabilities } }\n  }\n  releases(first: 50, where: {hasEnvironmentsWith: {status: QUEUED}}) {\n    edges { node { id name environments { name status deployments { id status job { status waitingReason demands queuedAt } } } } }\n  }\n}": types.AgentsDocument,
    "mutation Approve($input: ApprovalDecisionInput!) { approve(input: $input) { id status } }": types.ApproveDocument,
    "mutation Reject($input: ApprovalDecisionInput!) { reject(input: $input) { id status } }": types.RejectDocument,
    "mutation Reassign($id: ID!, $to: String!, $comment: String) { reassignApproval(approvalId: $id, toUsername: $to, comment: $comment) { id status } }": types.ReassignDocument,
    "query AuditPage($first: Int, $after: Cursor, $last: Int, $before: Cursor, $where: AuditEventWhereInput, $orderBy: AuditEventOrder) {\n  auditEvents(first: $first, after: $after, last: $last, before: $before, where: $where, orderBy: $orderBy) {\n    totalCount\n    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }\n    edges { node { id sequence time actor onBehalfOf action targetType targetID } }\n  }\n}": types.AuditPageDocument,
    "query Why($rel: ID!, $env: String!) {\n  whyNotDeployed(releaseId: $rel, environment: $env) {\n    releaseName environment status deployed\n    blockers {\n      kind message since until stage whoCanAct viewerActions\n      deployment { id }\n      approvals { approval { id approver approverKind } viewerCanDecide viewerCanReassign }\n      gateSampleCount lastFailingSample { number takenAt results { gate passed detail } }\n      freezeWindows { id name }\n      queuePosition maxParallel queueAhead { releaseName } queueRunning { releaseName }\n      job { id demands waitingReason }\n      intervention { id taskName instructions }\n      environments newerRelease { id name }\n    }\n  }\n}": types.WhyDocument,
    "mutation BlockerDeploy($input: DeployEnvironmentInput!) { deployEnvironment(input: $input) { id } }": types.BlockerDeployDocument,
    "mutation BlockerApprove($input: ApprovalDecisionInput!) { approve(input: $input) { id } }": types.BlockerApproveDocument,
    "mutation BlockerReject($input: ApprovalDecisionInput!) { reject(input: $input) { id } }": types.BlockerRejectDocument,
    "mutation BlockerIgnoreGates($id: ID!) { ignoreGates(deploymentId: $id) { id } }": types.BlockerIgnoreGatesDocument,
    "mutation BlockerResume($id: ID!) { resumeManualIntervention(id: $id) { id } }": types.BlockerResumeDocument,
    "mutation BlockerRejectIntervention($id: ID!) { rejectManualIntervention(id: $id) { id } }": types.BlockerRejectInterventionDocument,
    "mutation BlockerCancel($id: ID!) { cancelDeployment(deploymentId: $id) { id } }": types.BlockerCancelDocument,
    "query Changes($rel: ID!, $env: String!) {\n  changesSince(releaseId: $rel, environment: $env) {\n    current { id name }\n    releases { id name }\n    commits { id sha message author url }\n    workItems { id system externalID title state }\n    removedReleases { id name }\n    removedCommits { id sha message author url }\n    removedWorkItems { id system externalID title state }\n  }\n}": types.ChangesDocument,
    "mutation ConfirmDeploy($input: DeployEnvironmentInput!) { deployEnvironment(input: $input) { id } }": types.ConfirmDeployDocument,
    "mutation ConfirmCancel($id: ID!, $c: String) { cancelDeployment(deploymentId: $id, comment: $c) { id } }": types.ConfirmCancelDocument,
    "mutation ConfirmAbandon($id: ID!, $c: String) { abandonRelease(releaseId: $id, comment: $c) { id } }": types.ConfirmAbandonDocument,
    "query CreateReleaseInfo($id: ID!) {\n  definition(id: $id) {\n    id name\n    variables { name value secret settableAtReleaseTime }\n    artifactSources { alias type job primary branchFilters }\n    environments { name rank trigger { kind environments } variables { name value secret settableAtReleaseTime } }\n  }\n}": types.CreateReleaseInfoDocument,
    "query ArtifactBuilds($id: ID!, $alias: String!) {\n  artifactVersions(definitionId: $id, alias: $alias, first: 20) { buildId buildNumber branch commit result finishedAt admitted }\n}": types.ArtifactBuildsDocument,
    "mutation CreateRelease($input: NewReleaseInput!) { createRelease(input: $input) { id name } }": types.CreateReleaseDocument,
    "query Definition($id: ID!) {\n  definition(id: $id) {\n    id name description revision\n    viewerCan { createReleases }\n    environments { name rank }\n    releases(first: 30, orderBy: {field: CREATED_AT, direction: DESC}) {\n      edges { node { id name status createdAt createdBy environments { id name rank status } } }\n    }\n  }\n}": types.DefinitionDocument,
    "query Deployment($id: ID!) {\n  node(id: $id) { __typename ... on Deployment { id attempt status statusReason viewerCan { cancel } environmentName completedAt release { id name } job { status waitingReason agent { name } }\n    jobs { id phase target logBase logSeq status startedAt finishedAt agent { name }\n      steps { id position name status startedAt finishedAt errorCount warningCount } }\n    targets { id target status resultReason waitingReason startedAt finishedAt } } }\n}": types.DeploymentDocument,
    "subscription LogBatches($id: ID!, $from: Int64, $max: Int) {\n  deploymentLogBatches(deploymentId: $id, fromSeq: $from, maxLines: $max) { fromSeq lastSeq texts steps }\n}": types.LogBatchesDocument,
    "query EnvActs($def: ID!, $dep: ID!, $hasDep: Boolean!) {\n  freezeWindows(definitionId: $def) { id name reason environment mode active activeUntil nextStartsAt }\n  node(id: $dep) @include(if: $hasDep) {\n    ... on Deployment { id gateSamples { id stage number takenAt passed results { gate passed detail } } }\n  }\n}": types.EnvActsDocument,
    "query MyApprovals {\n  pendingApprovals {\n    id stage approver approverKind createdAt dueAt viewerCan { approve reject reassign }\n    deployment { id environmentName requestedBy release { id name definition { id name } } }\n  }\n  pendingManualInterventions {\n    id taskName instructions createdAt timeoutAt onTimeout\n    deployment { id environmentName release { id name definition { id name } } }\n  }\n}": types.MyApprovalsDocument,
    "query Overview {\n  definitions(first: 100, orderBy: {field: NAME, direction: ASC}) {\n    edges { node { id name viewerCan { createReleases } environments { name rank } } }\n  }\n}": types.OverviewDocument,
    "query OverviewRow($id: ID!) {\n  currentDeployments(definitionId: $id) {\n    environment\n    current { id name }\n    latest {\n      id status statusReason updatedAt createdAt\n      release { id name }\n      approvals { id stage status approver approverKind }\n      job { status waitingReason }\n      manualInterventions { status taskName approvers { kind name } }\n    }\n  }\n}": types.OverviewRowDocument,
    "query WaitingForViewer {\n  pendingApprovals { id deployment { id } }\n  pendingManualInterventions { id deployment { id } }\n}": types.WaitingForViewerDocument,
    "query Profile {\n  viewer { role user { id username displayName email hasPassword groups { name } } }\n  myApiTokens { id name createdAt expiresAt revokedAt lastUsedAt scopes }\n}": types.ProfileDocument,
    "mutation ChangeOwnPassword($current: String!, $next: String!) { changePassword(currentPassword: $current, newPassword: $next) }": types.ChangeOwnPasswordDocument,
    "mutation CreateOwnApiToken($input: NewApiTokenInput!) { createApiToken(input: $input) { token apiToken { id name } } }": types.CreateOwnApiTokenDocument,
    "mutation RevokeOwnApiToken($id: ID!) { revokeApiToken(id: $id) { id revokedAt } }": types.RevokeOwnApiTokenDocument,
    "query Release($id: ID!) {\n  release(id: $id) {\n    id name status description createdBy createdAt reason\n    viewerCan { abandon }\n    definition {\n      id name\n      environments { name rank trigger { kind environments } }\n    }\n    artifacts { id alias type buildNumber branch commit buildURL primary }\n    environments {\n      id name rank status\n      viewerCan { deploy redeploy rollback cancel }\n      deployments {\n        id attempt status statusReason operation requestedBy createdAt updatedAt deferredUntil\n        approvals { id stage status approver approverKind decidedBy comment decidedAt rank viewerCan { approve reject reassign } }\n        job { id status waitingReason agent { name } }\n        manualInterventions { id taskName instructions status decidedBy comment timeoutAt onTimeout }\n      }\n    }\n    commits(first: 50) { edges { node { id alias sha message author url } } }\n    workItems(first: 50) { edges { node { id system externalID title type state url } } }\n  }\n  pendingManualInterventions { id }\n}": types.ReleaseDocument,
    "mutation ResumeIntervention($id: ID!, $c: String) { resumeManualIntervention(id: $id, comment: $c) { id status } }": types.ResumeInterventionDocument,
    "mutation RejectIntervention($id: ID!, $c: String) { rejectManualIntervention(id: $id, comment: $c) { id status } }": types.RejectInterventionDocument,
    "query ReleasesPage($first: Int, $after: Cursor, $last: Int, $before: Cursor, $where: ReleaseWhereInput) {\n  releases(first: $first, after: $after, last: $last, before: $before, where: $where, orderBy: {field: CREATED_AT, direction: DESC}) {\n    totalCount\n    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }\n    edges { node {\n      id name status createdBy createdAt reason\n      definition { id name }\n      artifacts { alias branch buildNumber primary }\n      environments { id name status }\n    } }\n  }\n}": types.ReleasesPageDocument,
    "query Revisions($id: ID!) {\n  definitionRevisions(definitionID: $id, first: 100, orderBy: {field: REVISION, direction: DESC}) {\n    edges { node { id revision changeType author comment createdAt } }\n  }\n}": types.RevisionsDocument,
    "query Diff($id: ID!, $from: Int!, $to: Int!) { definitionDiff(id: $id, from: $from, to: $to) { path before after kind } }": types.DiffDocument,
    "query WebhookDeliveriesPage($first: Int, $after: Cursor, $last: Int, $before: Cursor, $where: WebhookDeliveryWhereInput) {\n  webhookDeliveries(first: $first, after: $after, last: $last, before: $before, where: $where, orderBy: {field: CREATED_AT, direction: DESC}) {\n    totalCount\n    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }\n    edges { node {\n      id createdAt source buildKey event result reason statusCode\n      connection { name }\n      releases { id name }\n      redeliveryOf { id }\n      redeliveries { id result }\n    } }\n  }\n}": types.WebhookDeliveriesPageDocument,
    "mutation RedeliverWebhookDelivery($id: ID!) {\n  redeliverWebhookDelivery(id: $id) { id result reason releases { id name } }\n}": types.RedeliverWebhookDeliveryDocument,
    "query WorkItem($system: String!, $id: String!) {\n  workItem(system: $system, externalId: $id) {\n    workItem { title state type url externalID system }\n    deployedTo { definitionId definitionName environment deployedAt status release { id name } introduced { id name } }\n    notDeployedTo { definitionId definitionName environment introduced { id name } current { id name } }\n  }\n}": types.WorkItemDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 *
 *
 * @example
 * ```ts
 * const query = graphql(`query GetUser($id: ID!) { user(id: $id) { name } }`);
 * ```
 *
 * The query argument is unknown!
 * Please regenerate the types.
 */
export function graphql(source: string): unknown;

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "subscription ReleaseEvents {\n  releaseEvents {\n    __typename\n    ... on ReleaseCreatedEvent { sequence type definitionId releaseId }\n    ... on ReleaseAbandonedEvent { sequence type definitionId releaseId }\n    ... on EnvironmentStatusChangedEvent { sequence type definitionId releaseId environment status deploymentId }\n    ... on DeploymentStartedEvent { sequence type definitionId releaseId environment deploymentId status }\n    ... on DeploymentFinishedEvent { sequence type definitionId releaseId environment deploymentId status }\n    ... on ApprovalPendingEvent { sequence type definitionId releaseId environment deploymentId approvalId }\n    ... on ApprovalDecidedEvent { sequence type definitionId releaseId environment deploymentId approvalId status }\n    ... on ApprovalTimedOutEvent { sequence type definitionId releaseId environment deploymentId approvalId status }\n    ... on ApprovalReassignedEvent { sequence type definitionId releaseId environment deploymentId approvalId status }\n    ... on JobLostEvent { sequence type lostDefinitionId: definitionId lostReleaseId: releaseId environment deploymentId }\n    ... on GateSampleFailedEvent { sequence type definitionId releaseId environment deploymentId }\n    ... on ManualInterventionPendingEvent { sequence type definitionId releaseId environment deploymentId }\n    ... on ManualInterventionDecidedEvent { sequence type definitionId releaseId environment deploymentId }\n    ... on FreezeStartedEvent { sequence type freezeDefinitionId: definitionId }\n    ... on FreezeEndedEvent { sequence type freezeDefinitionId: definitionId }\n  }\n}"): (typeof documents)["subscription ReleaseEvents {\n  releaseEvents {\n    __typename\n    ... on ReleaseCreatedEvent { sequence type definitionId releaseId }\n    ... on ReleaseAbandonedEvent { sequence type definitionId releaseId }\n    ... on EnvironmentStatusChangedEvent { sequence type definitionId releaseId environment status deploymentId }\n    ... on DeploymentStartedEvent { sequence type definitionId releaseId environment deploymentId status }\n    ... on DeploymentFinishedEvent { sequence type definitionId releaseId environment deploymentId status }\n    ... on ApprovalPendingEvent { sequence type definitionId releaseId environment deploymentId approvalId }\n    ... on ApprovalDecidedEvent { sequence type definitionId releaseId environment deploymentId approvalId status }\n    ... on ApprovalTimedOutEvent { sequence type definitionId releaseId environment deploymentId approvalId status }\n    ... on ApprovalReassignedEvent { sequence type definitionId releaseId environment deploymentId approvalId status }\n    ... on JobLostEvent { sequence type lostDefinitionId: definitionId lostReleaseId: releaseId environment deploymentId }\n    ... on GateSampleFailedEvent { sequence type definitionId releaseId environment deploymentId }\n    ... on ManualInterventionPendingEvent { sequence type definitionId releaseId environment deploymentId }\n    ... on ManualInterventionDecidedEvent { sequence type definitionId releaseId environment deploymentId }\n    ... on FreezeStartedEvent { sequence type freezeDefinitionId: definitionId }\n    ... on FreezeEndedEvent { sequence type freezeDefinitionId: definitionId }\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "subscription AgentEvents { agentEvents { __typename ... on AgentStatusEvent { sequence type agentId status } } }"): (typeof documents)["subscription AgentEvents { agentEvents { __typename ... on AgentStatusEvent { sequence type agentId status } } }"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query Viewer { viewer { role user { username displayName } } }"): (typeof documents)["query Viewer { viewer { role user { username displayName } } }"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query PendingCount { pendingApprovals { id } pendingManualInterventions { id } }"): (typeof documents)["query PendingCount { pendingApprovals { id } pendingManualInterventions { id } }"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query MayCall($fields: [String!]!) { viewer { mayCall(fields: $fields) } }"): (typeof documents)["query MayCall($fields: [String!]!) { viewer { mayCall(fields: $fields) } }"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query Agents {\n  agents(first: 200, orderBy: {field: NAME, direction: ASC}) {\n    edges { node { id name version enabled online lastSeenAt maxJobs pool { name } capabilities } }\n  }\n  releases(first: 50, where: {hasEnvironmentsWith: {status: QUEUED}}) {\n    edges { node { id name environments { name status deployments { id status job { status waitingReason demands queuedAt } } } } }\n  }\n}"): (typeof documents)["query Agents {\n  agents(first: 200, orderBy: {field: NAME, direction: ASC}) {\n    edges { node { id name version enabled online lastSeenAt maxJobs pool { name } capabilities } }\n  }\n  releases(first: 50, where: {hasEnvironmentsWith: {status: QUEUED}}) {\n    edges { node { id name environments { name status deployments { id status job { status waitingReason demands queuedAt } } } } }\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation Approve($input: ApprovalDecisionInput!) { approve(input: $input) { id status } }"): (typeof documents)["mutation Approve($input: ApprovalDecisionInput!) { approve(input: $input) { id status } }"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation Reject($input: ApprovalDecisionInput!) { reject(input: $input) { id status } }"): (typeof documents)["mutation Reject($input: ApprovalDecisionInput!) { reject(input: $input) { id status } }"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation Reassign($id: ID!, $to: String!, $comment: String) { reassignApproval(approvalId: $id, toUsername: $to, comment: $comment) { id status } }"): (typeof documents)["mutation Reassign($id: ID!, $to: String!, $comment: String) { reassignApproval(approvalId: $id, toUsername: $to, comment: $comment) { id status } }"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query AuditPage($first: Int, $after: Cursor, $last: Int, $before: Cursor, $where: AuditEventWhereInput, $orderBy: AuditEventOrder) {\n  auditEvents(first: $first, after: $after, last: $last, before: $before, where: $where, orderBy: $orderBy) {\n    totalCount\n    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }\n    edges { node { id sequence time actor onBehalfOf action targetType targetID } }\n  }\n}"): (typeof documents)["query AuditPage($first: Int, $after: Cursor, $last: Int, $before: Cursor, $where: AuditEventWhereInput, $orderBy: AuditEventOrder) {\n  auditEvents(first: $first, after: $after, last: $last, before: $before, where: $where, orderBy: $orderBy) {\n    totalCount\n    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }\n    edges { node { id sequence time actor onBehalfOf action targetType targetID } }\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query Why($rel: ID!, $env: String!) {\n  whyNotDeployed(releaseId: $rel, environment: $env) {\n    releaseName environment status deployed\n    blockers {\n      kind message since until stage whoCanAct viewerActions\n      deployment { id }\n      approvals { approval { id approver approverKind } viewerCanDecide viewerCanReassign }\n      gateSampleCount lastFailingSample { number takenAt results { gate passed detail } }\n      freezeWindows { id name }\n      queuePosition maxParallel queueAhead { releaseName } queueRunning { releaseName }\n      job { id demands waitingReason }\n      intervention { id taskName instructions }\n      environments newerRelease { id name }\n    }\n  }\n}"): (typeof documents)["query Why($rel: ID!, $env: String!) {\n  whyNotDeployed(releaseId: $rel, environment: $env) {\n    releaseName environment status deployed\n    blockers {\n      kind message since until stage whoCanAct viewerActions\n      deployment { id }\n      approvals { approval { id approver approverKind } viewerCanDecide viewerCanReassign }\n      gateSampleCount lastFailingSample { number takenAt results { gate passed detail } }\n      freezeWindows { id name }\n      queuePosition maxParallel queueAhead { releaseName } queueRunning { releaseName }\n      job { id demands waitingReason }\n      intervention { id taskName instructions }\n      environments newerRelease { id name }\n    }\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation BlockerDeploy($input: DeployEnvironmentInput!) { deployEnvironment(input: $input) { id } }"): (typeof documents)["mutation BlockerDeploy($input: DeployEnvironmentInput!) { deployEnvironment(input: $input) { id } }"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation BlockerApprove($input: ApprovalDecisionInput!) { approve(input: $input) { id } }"): (typeof documents)["mutation BlockerApprove($input: ApprovalDecisionInput!) { approve(input: $input) { id } }"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation BlockerReject($input: ApprovalDecisionInput!) { reject(input: $input) { id } }"): (typeof documents)["mutation BlockerReject($input: ApprovalDecisionInput!) { reject(input: $input) { id } }"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation BlockerIgnoreGates($id: ID!) { ignoreGates(deploymentId: $id) { id } }"): (typeof documents)["mutation BlockerIgnoreGates($id: ID!) { ignoreGates(deploymentId: $id) { id } }"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation BlockerResume($id: ID!) { resumeManualIntervention(id: $id) { id } }"): (typeof documents)["mutation BlockerResume($id: ID!) { resumeManualIntervention(id: $id) { id } }"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation BlockerRejectIntervention($id: ID!) { rejectManualIntervention(id: $id) { id } }"): (typeof documents)["mutation BlockerRejectIntervention($id: ID!) { rejectManualIntervention(id: $id) { id } }"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation BlockerCancel($id: ID!) { cancelDeployment(deploymentId: $id) { id } }"): (typeof documents)["mutation BlockerCancel($id: ID!) { cancelDeployment(deploymentId: $id) { id } }"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query Changes($rel: ID!, $env: String!) {\n  changesSince(releaseId: $rel, environment: $env) {\n    current { id name }\n    releases { id name }\n    commits { id sha message author url }\n    workItems { id system externalID title state }\n    removedReleases { id name }\n    removedCommits { id sha message author url }\n    removedWorkItems { id system externalID title state }\n  }\n}"): (typeof documents)["query Changes($rel: ID!, $env: String!) {\n  changesSince(releaseId: $rel, environment: $env) {\n    current { id name }\n    releases { id name }\n    commits { id sha message author url }\n    workItems { id system externalID title state }\n    removedReleases { id name }\n    removedCommits { id sha message author url }\n    removedWorkItems { id system externalID title state }\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation ConfirmDeploy($input: DeployEnvironmentInput!) { deployEnvironment(input: $input) { id } }"): (typeof documents)["mutation ConfirmDeploy($input: DeployEnvironmentInput!) { deployEnvironment(input: $input) { id } }"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation ConfirmCancel($id: ID!, $c: String) { cancelDeployment(deploymentId: $id, comment: $c) { id } }"): (typeof documents)["mutation ConfirmCancel($id: ID!, $c: String) { cancelDeployment(deploymentId: $id, comment: $c) { id } }"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation ConfirmAbandon($id: ID!, $c: String) { abandonRelease(releaseId: $id, comment: $c) { id } }"): (typeof documents)["mutation ConfirmAbandon($id: ID!, $c: String) { abandonRelease(releaseId: $id, comment: $c) { id } }"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query CreateReleaseInfo($id: ID!) {\n  definition(id: $id) {\n    id name\n    variables { name value secret settableAtReleaseTime }\n    artifactSources { alias type job primary branchFilters }\n    environments { name rank trigger { kind environments } variables { name value secret settableAtReleaseTime } }\n  }\n}"): (typeof documents)["query CreateReleaseInfo($id: ID!) {\n  definition(id: $id) {\n    id name\n    variables { name value secret settableAtReleaseTime }\n    artifactSources { alias type job primary branchFilters }\n    environments { name rank trigger { kind environments } variables { name value secret settableAtReleaseTime } }\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query ArtifactBuilds($id: ID!, $alias: String!) {\n  artifactVersions(definitionId: $id, alias: $alias, first: 20) { buildId buildNumber branch commit result finishedAt admitted }\n}"): (typeof documents)["query ArtifactBuilds($id: ID!, $alias: String!) {\n  artifactVersions(definitionId: $id, alias: $alias, first: 20) { buildId buildNumber branch commit result finishedAt admitted }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation CreateRelease($input: NewReleaseInput!) { createRelease(input: $input) { id name } }"): (typeof documents)["mutation CreateRelease($input: NewReleaseInput!) { createRelease(input: $input) { id name } }"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query Definition($id: ID!) {\n  definition(id: $id) {\n    id name description revision\n    viewerCan { createReleases }\n    environments { name rank }\n    releases(first: 30, orderBy: {field: CREATED_AT, direction: DESC}) {\n      edges { node { id name status createdAt createdBy environments { id name rank status } } }\n    }\n  }\n}"): (typeof documents)["query Definition($id: ID!) {\n  definition(id: $id) {\n    id name description revision\n    viewerCan { createReleases }\n    environments { name rank }\n    releases(first: 30, orderBy: {field: CREATED_AT, direction: DESC}) {\n      edges { node { id name status createdAt createdBy environments { id name rank status } } }\n    }\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query Deployment($id: ID!) {\n  node(id: $id) { __typename ... on Deployment { id attempt status statusReason viewerCan { cancel } environmentName completedAt release { id name } job { status waitingReason agent { name } }\n    jobs { id phase target logBase logSeq status startedAt finishedAt agent { name }\n      steps { id position name status startedAt finishedAt errorCount warningCount } }\n    targets { id target status resultReason waitingReason startedAt finishedAt } } }\n}"): (typeof documents)["query Deployment($id: ID!) {\n  node(id: $id) { __typename ... on Deployment { id attempt status statusReason viewerCan { cancel } environmentName completedAt release { id name } job { status waitingReason agent { name } }\n    jobs { id phase target logBase logSeq status startedAt finishedAt agent { name }\n      steps { id position name status startedAt finishedAt errorCount warningCount } }\n    targets { id target status resultReason waitingReason startedAt finishedAt } } }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "subscription LogBatches($id: ID!, $from: Int64, $max: Int) {\n  deploymentLogBatches(deploymentId: $id, fromSeq: $from, maxLines: $max) { fromSeq lastSeq texts steps }\n}"): (typeof documents)["subscription LogBatches($id: ID!, $from: Int64, $max: Int) {\n  deploymentLogBatches(deploymentId: $id, fromSeq: $from, maxLines: $max) { fromSeq lastSeq texts steps }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query EnvActs($def: ID!, $dep: ID!, $hasDep: Boolean!) {\n  freezeWindows(definitionId: $def) { id name reason environment mode active activeUntil nextStartsAt }\n  node(id: $dep) @include(if: $hasDep) {\n    ... on Deployment { id gateSamples { id stage number takenAt passed results { gate passed detail } } }\n  }\n}"): (typeof documents)["query EnvActs($def: ID!, $dep: ID!, $hasDep: Boolean!) {\n  freezeWindows(definitionId: $def) { id name reason environment mode active activeUntil nextStartsAt }\n  node(id: $dep) @include(if: $hasDep) {\n    ... on Deployment { id gateSamples { id stage number takenAt passed results { gate passed detail } } }\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query MyApprovals {\n  pendingApprovals {\n    id stage approver approverKind createdAt dueAt viewerCan { approve reject reassign }\n    deployment { id environmentName requestedBy release { id name definition { id name } } }\n  }\n  pendingManualInterventions {\n    id taskName instructions createdAt timeoutAt onTimeout\n    deployment { id environmentName release { id name definition { id name } } }\n  }\n}"): (typeof documents)["query MyApprovals {\n  pendingApprovals {\n    id stage approver approverKind createdAt dueAt viewerCan { approve reject reassign }\n    deployment { id environmentName requestedBy release { id name definition { id name } } }\n  }\n  pendingManualInterventions {\n    id taskName instructions createdAt timeoutAt onTimeout\n    deployment { id environmentName release { id name definition { id name } } }\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query Overview {\n  definitions(first: 100, orderBy: {field: NAME, direction: ASC}) {\n    edges { node { id name viewerCan { createReleases } environments { name rank } } }\n  }\n}"): (typeof documents)["query Overview {\n  definitions(first: 100, orderBy: {field: NAME, direction: ASC}) {\n    edges { node { id name viewerCan { createReleases } environments { name rank } } }\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query OverviewRow($id: ID!) {\n  currentDeployments(definitionId: $id) {\n    environment\n    current { id name }\n    latest {\n      id status statusReason updatedAt createdAt\n      release { id name }\n      approvals { id stage status approver approverKind }\n      job { status waitingReason }\n      manualInterventions { status taskName approvers { kind name } }\n    }\n  }\n}"): (typeof documents)["query OverviewRow($id: ID!) {\n  currentDeployments(definitionId: $id) {\n    environment\n    current { id name }\n    latest {\n      id status statusReason updatedAt createdAt\n      release { id name }\n      approvals { id stage status approver approverKind }\n      job { status waitingReason }\n      manualInterventions { status taskName approvers { kind name } }\n    }\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query WaitingForViewer {\n  pendingApprovals { id deployment { id } }\n  pendingManualInterventions { id deployment { id } }\n}"): (typeof documents)["query WaitingForViewer {\n  pendingApprovals { id deployment { id } }\n  pendingManualInterventions { id deployment { id } }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query Profile {\n  viewer { role user { id username displayName email hasPassword groups { name } } }\n  myApiTokens { id name createdAt expiresAt revokedAt lastUsedAt scopes }\n}"): (typeof documents)["query Profile {\n  viewer { role user { id username displayName email hasPassword groups { name } } }\n  myApiTokens { id name createdAt expiresAt revokedAt lastUsedAt scopes }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation ChangeOwnPassword($current: String!, $next: String!) { changePassword(currentPassword: $current, newPassword: $next) }"): (typeof documents)["mutation ChangeOwnPassword($current: String!, $next: String!) { changePassword(currentPassword: $current, newPassword: $next) }"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation CreateOwnApiToken($input: NewApiTokenInput!) { createApiToken(input: $input) { token apiToken { id name } } }"): (typeof documents)["mutation CreateOwnApiToken($input: NewApiTokenInput!) { createApiToken(input: $input) { token apiToken { id name } } }"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation RevokeOwnApiToken($id: ID!) { revokeApiToken(id: $id) { id revokedAt } }"): (typeof documents)["mutation RevokeOwnApiToken($id: ID!) { revokeApiToken(id: $id) { id revokedAt } }"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query Release($id: ID!) {\n  release(id: $id) {\n    id name status description createdBy createdAt reason\n    viewerCan { abandon }\n    definition {\n      id name\n      environments { name rank trigger { kind environments } }\n    }\n    artifacts { id alias type buildNumber branch commit buildURL primary }\n    environments {\n      id name rank status\n      viewerCan { deploy redeploy rollback cancel }\n      deployments {\n        id attempt status statusReason operation requestedBy createdAt updatedAt deferredUntil\n        approvals { id stage status approver approverKind decidedBy comment decidedAt rank viewerCan { approve reject reassign } }\n        job { id status waitingReason agent { name } }\n        manualInterventions { id taskName instructions status decidedBy comment timeoutAt onTimeout }\n      }\n    }\n    commits(first: 50) { edges { node { id alias sha message author url } } }\n    workItems(first: 50) { edges { node { id system externalID title type state url } } }\n  }\n  pendingManualInterventions { id }\n}"): (typeof documents)["query Release($id: ID!) {\n  release(id: $id) {\n    id name status description createdBy createdAt reason\n    viewerCan { abandon }\n    definition {\n      id name\n      environments { name rank trigger { kind environments } }\n    }\n    artifacts { id alias type buildNumber branch commit buildURL primary }\n    environments {\n      id name rank status\n      viewerCan { deploy redeploy rollback cancel }\n      deployments {\n        id attempt status statusReason operation requestedBy createdAt updatedAt deferredUntil\n        approvals { id stage status approver approverKind decidedBy comment decidedAt rank viewerCan { approve reject reassign } }\n        job { id status waitingReason agent { name } }\n        manualInterventions { id taskName instructions status decidedBy comment timeoutAt onTimeout }\n      }\n    }\n    commits(first: 50) { edges { node { id alias sha message author url } } }\n    workItems(first: 50) { edges { node { id system externalID title type state url } } }\n  }\n  pendingManualInterventions { id }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation ResumeIntervention($id: ID!, $c: String) { resumeManualIntervention(id: $id, comment: $c) { id status } }"): (typeof documents)["mutation ResumeIntervention($id: ID!, $c: String) { resumeManualIntervention(id: $id, comment: $c) { id status } }"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation RejectIntervention($id: ID!, $c: String) { rejectManualIntervention(id: $id, comment: $c) { id status } }"): (typeof documents)["mutation RejectIntervention($id: ID!, $c: String) { rejectManualIntervention(id: $id, comment: $c) { id status } }"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query ReleasesPage($first: Int, $after: Cursor, $last: Int, $before: Cursor, $where: ReleaseWhereInput) {\n  releases(first: $first, after: $after, last: $last, before: $before, where: $where, orderBy: {field: CREATED_AT, direction: DESC}) {\n    totalCount\n    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }\n    edges { node {\n      id name status createdBy createdAt reason\n      definition { id name }\n      artifacts { alias branch buildNumber primary }\n      environments { id name status }\n    } }\n  }\n}"): (typeof documents)["query ReleasesPage($first: Int, $after: Cursor, $last: Int, $before: Cursor, $where: ReleaseWhereInput) {\n  releases(first: $first, after: $after, last: $last, before: $before, where: $where, orderBy: {field: CREATED_AT, direction: DESC}) {\n    totalCount\n    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }\n    edges { node {\n      id name status createdBy createdAt reason\n      definition { id name }\n      artifacts { alias branch buildNumber primary }\n      environments { id name status }\n    } }\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query Revisions($id: ID!) {\n  definitionRevisions(definitionID: $id, first: 100, orderBy: {field: REVISION, direction: DESC}) {\n    edges { node { id revision changeType author comment createdAt } }\n  }\n}"): (typeof documents)["query Revisions($id: ID!) {\n  definitionRevisions(definitionID: $id, first: 100, orderBy: {field: REVISION, direction: DESC}) {\n    edges { node { id revision changeType author comment createdAt } }\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query Diff($id: ID!, $from: Int!, $to: Int!) { definitionDiff(id: $id, from: $from, to: $to) { path before after kind } }"): (typeof documents)["query Diff($id: ID!, $from: Int!, $to: Int!) { definitionDiff(id: $id, from: $from, to: $to) { path before after kind } }"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query WebhookDeliveriesPage($first: Int, $after: Cursor, $last: Int, $before: Cursor, $where: WebhookDeliveryWhereInput) {\n  webhookDeliveries(first: $first, after: $after, last: $last, before: $before, where: $where, orderBy: {field: CREATED_AT, direction: DESC}) {\n    totalCount\n    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }\n    edges { node {\n      id createdAt source buildKey event result reason statusCode\n      connection { name }\n      releases { id name }\n      redeliveryOf { id }\n      redeliveries { id result }\n    } }\n  }\n}"): (typeof documents)["query WebhookDeliveriesPage($first: Int, $after: Cursor, $last: Int, $before: Cursor, $where: WebhookDeliveryWhereInput) {\n  webhookDeliveries(first: $first, after: $after, last: $last, before: $before, where: $where, orderBy: {field: CREATED_AT, direction: DESC}) {\n    totalCount\n    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }\n    edges { node {\n      id createdAt source buildKey event result reason statusCode\n      connection { name }\n      releases { id name }\n      redeliveryOf { id }\n      redeliveries { id result }\n    } }\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation RedeliverWebhookDelivery($id: ID!) {\n  redeliverWebhookDelivery(id: $id) { id result reason releases { id name } }\n}"): (typeof documents)["mutation RedeliverWebhookDelivery($id: ID!) {\n  redeliverWebhookDelivery(id: $id) { id result reason releases { id name } }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query WorkItem($system: String!, $id: String!) {\n  workItem(system: $system, externalId: $id) {\n    workItem { title state type url externalID system }\n    deployedTo { definitionId definitionName environment deployedAt status release { id name } introduced { id name } }\n    notDeployedTo { definitionId definitionName environment introduced { id name } current { id name } }\n  }\n}"): (typeof documents)["query WorkItem($system: String!, $id: String!) {\n  workItem(system: $system, externalId: $id) {\n    workItem { title state type url externalID system }\n    deployedTo { definitionId definitionName environment deployedAt status release { id name } introduced { id name } }\n    notDeployedTo { definitionId definitionName environment introduced { id name } current { id name } }\n  }\n}"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;