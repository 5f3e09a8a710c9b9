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
    "subscription IdentityEvents { identityEvents { __typename targetType targetId action } }": typeof types.IdentityEventsDocument,
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
    "query CreateReleaseInfo($id: ID!) {\n  definition(id: $id) {\n    id name\n    releaseTimeVariables { name value secret declaredIn }\n    artifactSources { alias type job primary branchFilters }\n    environments { name rank trigger { kind environments } }\n  }\n}": typeof types.CreateReleaseInfoDocument,
    "query ArtifactBuilds($id: ID!, $alias: String!) {\n  artifactVersions(definitionId: $id, alias: $alias, first: 20) { buildId buildNumber branch commit result finishedAt admitted }\n}": typeof types.ArtifactBuildsDocument,
    "mutation CreateRelease($input: NewReleaseInput!) { createRelease(input: $input) { id name } }": typeof types.CreateReleaseDocument,
    "query Definition($id: ID!) {\n  definition(id: $id) {\n    id name description revision\n    viewerCan { editDefinition createReleases }\n    environments { name rank }\n    releases(first: 30, orderBy: {field: CREATED_AT, direction: DESC}) {\n      edges { node { id name status createdAt createdBy environments { id name rank status } } }\n    }\n  }\n}": typeof types.DefinitionDocument,
    "query Deployment($id: ID!) {\n  node(id: $id) { __typename ... on Deployment { id attempt status statusReason viewerCan { cancel } environmentName completedAt release { id name } job { status waitingReason agent { name } }\n    jobs { id phase target logBase logSeq status startedAt finishedAt agent { name }\n      steps { id position name status startedAt finishedAt errorCount warningCount } }\n    targets { id target status resultReason waitingReason startedAt finishedAt } } }\n}": typeof types.DeploymentDocument,
    "subscription LogBatches($id: ID!, $from: Int64, $max: Int) {\n  deploymentLogBatches(deploymentId: $id, fromSeq: $from, maxLines: $max) { fromSeq lastSeq texts steps }\n}": typeof types.LogBatchesDocument,
    "query DeploymentsPage($first: Int, $after: Cursor, $last: Int, $before: Cursor, $filter: DeploymentsFilter) {\n  deployments(first: $first, after: $after, last: $last, before: $before, filter: $filter) {\n    totalCount\n    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }\n    edges { node {\n      id environmentName status operation attempt requestedBy reason statusReason createdAt startedAt completedAt\n      release { id name definition { id name } }\n    } }\n  }\n}": typeof types.DeploymentsPageDocument,
    "query DeploymentsDefinitions {\n  definitions(first: 100, orderBy: {field: NAME, direction: ASC}) { edges { node { id name } } }\n}": typeof types.DeploymentsDefinitionsDocument,
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
    "query AdminAgents($first: Int, $after: Cursor, $last: Int, $before: Cursor, $where: AgentWhereInput) {\n  agents(first: $first, after: $after, last: $last, before: $before, where: $where, orderBy: {field: NAME, direction: ASC}) {\n    totalCount\n    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }\n    edges { node { id name version enabled online lastSeenAt maxJobs tags pool { name } deploymentGroup { name } systemCapabilities userCapabilities } }\n  }\n  agentPools { id name }\n}": typeof types.AdminAgentsDocument,
    "query AdminAgentRegistrations {\n  agentRegistrations { id createdAt pool deploymentGroup maxUses uses expiresAt createdBy revokedAt }\n}": typeof types.AdminAgentRegistrationsDocument,
    "mutation AdminSetAgentEnabled($id: ID!, $enabled: Boolean!) { setAgentEnabled(id: $id, enabled: $enabled) { id enabled } }": typeof types.AdminSetAgentEnabledDocument,
    "mutation AdminDeleteAgent($id: ID!) { deleteAgent(id: $id) }": typeof types.AdminDeleteAgentDocument,
    "mutation AdminMoveAgent($id: ID!, $pool: String!) { moveAgent(agentId: $id, pool: $pool) { id pool { name } } }": typeof types.AdminMoveAgentDocument,
    "mutation AdminCreateAgentRegistration($pool: String, $maxUses: Int, $hours: Int) {\n  createAgentRegistration(pool: $pool, maxUses: $maxUses, expiresInHours: $hours) { token registration { id pool } }\n}": typeof types.AdminCreateAgentRegistrationDocument,
    "mutation AdminRevokeAgentRegistration($id: ID!) { revokeAgentRegistration(id: $id) { id revokedAt } }": typeof types.AdminRevokeAgentRegistrationDocument,
    "query AdminDeploymentGroups {\n  deploymentGroups {\n    id name description mayUse { kind name }\n    targets { id name online enabled tags lastSeenAt lastDeployment { id } }\n  }\n  agentRegistrations { id createdAt pool deploymentGroup maxUses uses expiresAt createdBy revokedAt }\n}": typeof types.AdminDeploymentGroupsDocument,
    "mutation AdminSaveDeploymentGroup($input: DeploymentGroupInput!) { saveDeploymentGroup(input: $input) { id name } }": typeof types.AdminSaveDeploymentGroupDocument,
    "mutation AdminDeleteDeploymentGroup($name: String!) { deleteDeploymentGroup(name: $name) }": typeof types.AdminDeleteDeploymentGroupDocument,
    "mutation AdminSetTargetTags($id: ID!, $tags: [String!]!) { setTargetTags(agentId: $id, tags: $tags) { id tags } }": typeof types.AdminSetTargetTagsDocument,
    "mutation AdminCreateTargetRegistration($group: String!, $maxUses: Int, $hours: Int) {\n  createTargetRegistration(deploymentGroup: $group, maxUses: $maxUses, expiresInHours: $hours) { token registration { id deploymentGroup } }\n}": typeof types.AdminCreateTargetRegistrationDocument,
    "mutation AdminRevokeTargetRegistration($id: ID!) { revokeAgentRegistration(id: $id) { id revokedAt } }": typeof types.AdminRevokeTargetRegistrationDocument,
    "query AdminGroups($first: Int, $after: Cursor, $last: Int, $before: Cursor, $where: GroupWhereInput) {\n  groups(first: $first, after: $after, last: $last, before: $before, where: $where, orderBy: {field: NAME, direction: ASC}) {\n    totalCount\n    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }\n    edges { node { id name description members { id username displayName disabled } } }\n  }\n  users(first: 500, orderBy: {field: USERNAME, direction: ASC}, where: {disabled: false}) { edges { node { id username } } }\n}": typeof types.AdminGroupsDocument,
    "mutation AdminCreateGroup($input: NewGroupInput!) { createGroup(input: $input) { id name } }": typeof types.AdminCreateGroupDocument,
    "mutation AdminUpdateGroup($id: ID!, $input: GroupPatchInput!) { updateGroup(id: $id, input: $input) { id name description } }": typeof types.AdminUpdateGroupDocument,
    "mutation AdminDeleteGroup($id: ID!) { deleteGroup(id: $id) }": typeof types.AdminDeleteGroupDocument,
    "mutation AdminAddGroupMember($group: ID!, $user: ID!) { addGroupMember(groupId: $group, userId: $user) { id members { id } } }": typeof types.AdminAddGroupMemberDocument,
    "mutation AdminRemoveGroupMember($group: ID!, $user: ID!) { removeGroupMember(groupId: $group, userId: $user) { id members { id } } }": typeof types.AdminRemoveGroupMemberDocument,
    "query AdminPools {\n  agentPools { id name description createdAt mayUse { kind name } agents { id name online enabled } }\n}": typeof types.AdminPoolsDocument,
    "mutation AdminSaveAgentPool($input: AgentPoolInput!) { saveAgentPool(input: $input) { id name } }": typeof types.AdminSaveAgentPoolDocument,
    "query AdminMyTokens {\n  viewer { user { id username } }\n  myApiTokens { id name createdAt expiresAt revokedAt lastUsedAt scopes }\n  users(first: 500, orderBy: {field: USERNAME, direction: ASC}) { edges { node { id username disabled } } }\n}": typeof types.AdminMyTokensDocument,
    "query AdminUserTokens($id: ID!) {\n  userApiTokens(userId: $id) { id name createdAt expiresAt revokedAt lastUsedAt scopes }\n}": typeof types.AdminUserTokensDocument,
    "mutation AdminCreateApiToken($input: NewApiTokenInput!) { createApiToken(input: $input) { token apiToken { id name owner { username } } } }": typeof types.AdminCreateApiTokenDocument,
    "mutation AdminRevokeApiToken($id: ID!) { revokeApiToken(id: $id) { id revokedAt } }": typeof types.AdminRevokeApiTokenDocument,
    "query AdminUsers($first: Int, $after: Cursor, $last: Int, $before: Cursor, $where: UserWhereInput) {\n  users(first: $first, after: $after, last: $last, before: $before, where: $where, orderBy: {field: USERNAME, direction: ASC}) {\n    totalCount\n    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }\n    edges { node { id username displayName email role disabled hasPassword createdAt groups { id name } } }\n  }\n}": typeof types.AdminUsersDocument,
    "mutation AdminCreateUser($input: NewUserInput!) { createUser(input: $input) { id username } }": typeof types.AdminCreateUserDocument,
    "mutation AdminUpdateUser($id: ID!, $input: UserPatchInput!) { updateUser(id: $id, input: $input) { id role disabled } }": typeof types.AdminUpdateUserDocument,
    "mutation AdminDisableUser($id: ID!) { disableUser(id: $id) { id disabled } }": typeof types.AdminDisableUserDocument,
    "mutation AdminSetUserPassword($id: ID!, $password: String!) { setUserPassword(id: $id, password: $password) { id hasPassword } }": typeof types.AdminSetUserPasswordDocument,
    "query DesignerBuilds($source: ArtifactSourceInput!) {\n  sourceBuilds(source: $source, first: 10) { buildId buildNumber branch commit buildUrl result finishedAt }\n}": typeof types.DesignerBuildsDocument,
    "fragment DesignerSnapshot on DefinitionSnapshot {\n  name description releaseNameFormat path tags disabled readers variableGroups\n  variables { name value secret settableAtReleaseTime }\n  artifactSources { alias type connection job project repositoryUrl primary continuousDeployment branchFilters allowPartial }\n  schedules { cron timeZone scheduleOnlyWithChanges }\n  permissions {\n    editDefinition { kind name } createReleases { kind name } manageDeployments { kind name }\n    manageApprovals { kind name } overrideArtifactChecks { kind name } managePermissions { kind name }\n  }\n  environments {\n    name owner variableGroups\n    trigger { kind environments allowPartiallySucceeded }\n    preApproval { ...DesignerApproval }\n    postApproval { ...DesignerApproval }\n    preGates { ...DesignerGates }\n    postGates { ...DesignerGates }\n    job { demands timeoutMinutes skipArtifactDownload secureFiles tasks { ...DesignerTask } }\n    phases { kind name condition timeoutMinutes pool demands skipArtifactDownload secureFiles deploymentGroup tags maxParallel failureThreshold offlineTargets tasks { ...DesignerTask } }\n    queue { maxParallel mode }\n    variables { name value secret settableAtReleaseTime }\n    permissions { editEnvironment { kind name } manageDeployments { kind name } manageApprovals { kind name } }\n    retention { daysToKeep releasesToKeep retainBuild }\n  }\n}": typeof types.DesignerSnapshotFragmentDoc,
    "fragment DesignerApproval on ApprovalPolicy {\n  approvers { kind name } mode requiredCount requesterCannotApprove timeoutMinutes skipIfApprovedInPreviousEnvironment\n}": typeof types.DesignerApprovalFragmentDoc,
    "fragment DesignerGates on GatePolicy {\n  order delayMinutes intervalMinutes timeoutMinutes minimumSuccessMinutes\n  gates { name kind http { method url headers { name value } body successCriteria timeoutSeconds } workItems { types states tags maxCount } }\n}": typeof types.DesignerGatesFragmentDoc,
    "fragment DesignerTask on Task {\n  name kind shell script workingDirectory env timeoutMinutes continueOnError disabled instructions\n  approvers { kind name } onTimeout condition uses inputs\n  http { method url headers { name value } body successCriteria timeoutSeconds }\n}": typeof types.DesignerTaskFragmentDoc,
    "query DesignerDefinition($id: ID!) {\n  definition(id: $id) {\n    id name revision viewerCan { editDefinition }\n    revisions(first: 1, orderBy: {field: REVISION, direction: DESC}) {\n      edges { node { revision author comment snapshot { ...DesignerSnapshot } } }\n    }\n  }\n}": typeof types.DesignerDefinitionDocument,
    "query DesignerCatalogue {\n  taskTemplates { name version major description category inputs { name type required default options help connectionKind replaces } }\n  variableGroups { id name }\n}": typeof types.DesignerCatalogueDocument,
    "query DesignerConnections { serviceConnections(first: 100) { edges { node { id name kind } } } }": typeof types.DesignerConnectionsDocument,
    "mutation DesignerCreate($input: DefinitionInput!, $comment: String) { createDefinition(input: $input, comment: $comment) { id revision } }": typeof types.DesignerCreateDocument,
    "mutation DesignerUpdate($id: ID!, $rev: Int!, $input: DefinitionInput!, $comment: String) {\n  updateDefinition(id: $id, expectedRevision: $rev, input: $input, comment: $comment) { id revision }\n}": typeof types.DesignerUpdateDocument,
    "query DesignerFreezeWindows($id: ID!) {\n  freezeWindows(definitionId: $id) { id name reason environment mode startsAt endsAt cron durationMinutes timeZone active }\n}": typeof types.DesignerFreezeWindowsDocument,
    "mutation DesignerCreateFreezeWindow($input: FreezeWindowInput!) { createFreezeWindow(input: $input) { id } }": typeof types.DesignerCreateFreezeWindowDocument,
    "mutation DesignerDeleteFreezeWindow($id: ID!) { deleteFreezeWindow(id: $id) }": typeof types.DesignerDeleteFreezeWindowDocument,
    "query PrincipalCandidates($search: String!) {\n  principalCandidates(search: $search, first: 8) { kind name detail }\n}": typeof types.PrincipalCandidatesDocument,
    "query FreezeWindowsPage {\n  freezeWindows {\n    id name reason definitionID environment mode startsAt endsAt cron durationMinutes timeZone createdBy\n    active activeUntil nextStartsAt\n  }\n}": typeof types.FreezeWindowsPageDocument,
    "mutation CreateFreezeWindowForm($input: FreezeWindowInput!) { createFreezeWindow(input: $input) { id name } }": typeof types.CreateFreezeWindowFormDocument,
    "mutation UpdateFreezeWindowForm($id: ID!, $input: FreezeWindowInput!) { updateFreezeWindow(id: $id, input: $input) { id name } }": typeof types.UpdateFreezeWindowFormDocument,
    "mutation DeleteFreezeWindowForm($id: ID!) { deleteFreezeWindow(id: $id) }": typeof types.DeleteFreezeWindowFormDocument,
    "mutation ImportDefinitionsForm($documents: [String!]!, $dryRun: Boolean, $mapping: ImportMappingInput, $comment: String) {\n  importDefinitions(format: AZURE_CLASSIC, documents: $documents, dryRun: $dryRun, mapping: $mapping, comment: $comment) {\n    dryRun applied\n    definitions {\n      document sourceId sourceRevision sourceUrl name action input valid existingDefinitionId\n      definition { id name }\n      findings { path status message }\n    }\n  }\n}": typeof types.ImportDefinitionsFormDocument,
    "query OutgoingHooksPage {\n  outgoingHooks(first: 100, orderBy: {field: CREATED_AT, direction: DESC}) {\n    totalCount\n    edges { node { id name url eventTypes definitionID slack enabled hasSecret updatedAt } }\n  }\n  hookEventTypes\n}": typeof types.OutgoingHooksPageDocument,
    "query HookDeliveriesPage($hookId: ID!, $first: Int, $after: Cursor, $last: Int, $before: Cursor, $where: HookDeliveryWhereInput) {\n  hookDeliveries(hookId: $hookId, first: $first, after: $after, last: $last, before: $before, where: $where, orderBy: {field: CREATED_AT, direction: DESC}) {\n    totalCount\n    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }\n    edges { node { id createdAt eventSequence eventType deliveryID status attempts responseCode lastError nextAttemptAt deliveredAt redelivery redeliveryOf { id } } }\n  }\n}": typeof types.HookDeliveriesPageDocument,
    "mutation RedeliverHookDelivery($id: ID!) { redeliverHookDelivery(id: $id) { id redelivery } }": typeof types.RedeliverHookDeliveryDocument,
    "mutation CreateOutgoingHookForm($input: NewOutgoingHookInput!) { createOutgoingHook(input: $input) { id name } }": typeof types.CreateOutgoingHookFormDocument,
    "mutation UpdateOutgoingHookForm($id: ID!, $input: OutgoingHookPatchInput!) { updateOutgoingHook(id: $id, input: $input) { id name } }": typeof types.UpdateOutgoingHookFormDocument,
    "mutation DeleteOutgoingHookForm($id: ID!) { deleteOutgoingHook(id: $id) }": typeof types.DeleteOutgoingHookFormDocument,
    "query SecureFilesPage {\n  secureFiles {\n    id name description size sha256 createdBy updatedAt usedBy\n    permissions { use { kind name } administer { kind name } read { kind name } }\n    viewerCan { use administer read }\n  }\n}": typeof types.SecureFilesPageDocument,
    "mutation UpdateSecureFileForm($id: ID!, $description: String, $permissions: LibraryPermissionsInput) {\n  updateSecureFile(id: $id, description: $description, permissions: $permissions) { id name }\n}": typeof types.UpdateSecureFileFormDocument,
    "mutation DeleteSecureFileForm($id: ID!) { deleteSecureFile(id: $id) }": typeof types.DeleteSecureFileFormDocument,
    "query ServiceConnectionsPage($first: Int, $after: Cursor, $last: Int, $before: Cursor, $where: ServiceConnectionWhereInput) {\n  serviceConnections(first: $first, after: $after, last: $last, before: $before, where: $where, orderBy: {field: CREATED_AT, direction: DESC}) {\n    totalCount\n    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }\n    edges { node {\n      id name kind url username host port hostKey trustOnFirstUse kubeContext namespace updatedAt\n      hasSecret hasWebhookSecret hasPrivateKey hasKubeconfig usedBy\n    } }\n  }\n}": typeof types.ServiceConnectionsPageDocument,
    "mutation CreateServiceConnectionForm($input: NewServiceConnectionInput!) {\n  createServiceConnection(input: $input) { id name }\n}": typeof types.CreateServiceConnectionFormDocument,
    "mutation UpdateServiceConnectionForm($id: ID!, $input: ServiceConnectionPatchInput!) {\n  updateServiceConnection(id: $id, input: $input) { id name }\n}": typeof types.UpdateServiceConnectionFormDocument,
    "mutation DeleteServiceConnectionForm($id: ID!) { deleteServiceConnection(id: $id) }": typeof types.DeleteServiceConnectionFormDocument,
    "query TaskLibraryPage {\n  taskTemplates {\n    name version major description category shell script runner demands builtin usedBy\n    inputs { name type required default options help connectionKind replaces }\n    steps { name uses inputs condition continueOnError }\n  }\n}": typeof types.TaskLibraryPageDocument,
    "mutation CreateTaskTemplateForm($input: TaskTemplateInput!) { createTaskTemplate(input: $input) { name version } }": typeof types.CreateTaskTemplateFormDocument,
    "mutation UpdateTaskTemplateForm($input: TaskTemplateInput!) { updateTaskTemplate(input: $input) { name version } }": typeof types.UpdateTaskTemplateFormDocument,
    "mutation DeleteTaskTemplateForm($name: String!, $version: String!) { deleteTaskTemplate(name: $name, version: $version) }": typeof types.DeleteTaskTemplateFormDocument,
    "query VariableGroupsPage {\n  variableGroups {\n    id name description revision createdBy updatedAt usedBy\n    variables { name value secret settableAtReleaseTime }\n    permissions { use { kind name } administer { kind name } read { kind name } }\n    viewerCan { use administer read }\n  }\n}": typeof types.VariableGroupsPageDocument,
    "mutation CreateVariableGroupForm($input: VariableGroupInput!, $comment: String) { createVariableGroup(input: $input, comment: $comment) { id name } }": typeof types.CreateVariableGroupFormDocument,
    "mutation UpdateVariableGroupForm($id: ID!, $rev: Int!, $input: VariableGroupInput!, $comment: String) {\n  updateVariableGroup(id: $id, expectedRevision: $rev, input: $input, comment: $comment) { id name revision }\n}": typeof types.UpdateVariableGroupFormDocument,
    "mutation DeleteVariableGroupForm($id: ID!) { deleteVariableGroup(id: $id) }": typeof types.DeleteVariableGroupFormDocument,
    "query LibraryDefinitions {\n  definitions(first: 100, orderBy: {field: NAME, direction: ASC}) {\n    totalCount\n    edges { node { id name environments { name rank } } }\n  }\n}": typeof types.LibraryDefinitionsDocument,
};
const documents: Documents = {
    "subscription ReleaseEvents {\n  releaseEvents {\n    __typename\n    ... on ReleaseCreatedEvent { sequence type definitionId releaseId }\n    ... on ReleaseAbandonedEvent { sequence type definitionId releaseId }\n    ... on EnvironmentStatusChangedEvent { sequence type definitionId releaseId environment status deploymentId }\n    ... on DeploymentStartedEvent { sequence type definitionId releaseId environment deploymentId status }\n    ... on DeploymentFinishedEvent { sequence type definitionId releaseId environment deploymentId status }\n    ... on ApprovalPendingEvent { sequence type definitionId releaseId environment deploymentId approvalId }\n    ... on ApprovalDecidedEvent { sequence type definitionId releaseId environment deploymentId approvalId status }\n    ... on ApprovalTimedOutEvent { sequence type definitionId releaseId environment deploymentId approvalId status }\n    ... on ApprovalReassignedEvent { sequence type definitionId releaseId environment deploymentId approvalId status }\n    ... on JobLostEvent { sequence type lostDefinitionId: definitionId lostReleaseId: releaseId environment deploymentId }\n    ... on GateSampleFailedEvent { sequence type definitionId releaseId environment deploymentId }\n    ... on ManualInterventionPendingEvent { sequence type definitionId releaseId environment deploymentId }\n    ... on ManualInterventionDecidedEvent { sequence type definitionId releaseId environment deploymentId }\n    ... on FreezeStartedEvent { sequence type freezeDefinitionId: definitionId }\n    ... on FreezeEndedEvent { sequence type freezeDefinitionId: definitionId }\n  }\n}": types.ReleaseEventsDocument,
    "subscription AgentEvents { agentEvents { __typename ... on AgentStatusEvent { sequence type agentId status } } }": types.AgentEventsDocument,
    "subscription IdentityEvents { identityEvents { __typename targetType targetId action } }": types.IdentityEventsDocument,
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
    "query CreateReleaseInfo($id: ID!) {\n  definition(id: $id) {\n    id name\n    releaseTimeVariables { name value secret declaredIn }\n    artifactSources { alias type job primary branchFilters }\n    environments { name rank trigger { kind environments } }\n  }\n}": types.CreateReleaseInfoDocument,
    "query ArtifactBuilds($id: ID!, $alias: String!) {\n  artifactVersions(definitionId: $id, alias: $alias, first: 20) { buildId buildNumber branch commit result finishedAt admitted }\n}": types.ArtifactBuildsDocument,
    "mutation CreateRelease($input: NewReleaseInput!) { createRelease(input: $input) { id name } }": types.CreateReleaseDocument,
    "query Definition($id: ID!) {\n  definition(id: $id) {\n    id name description revision\n    viewerCan { editDefinition createReleases }\n    environments { name rank }\n    releases(first: 30, orderBy: {field: CREATED_AT, direction: DESC}) {\n      edges { node { id name status createdAt createdBy environments { id name rank status } } }\n    }\n  }\n}": types.DefinitionDocument,
    "query Deployment($id: ID!) {\n  node(id: $id) { __typename ... on Deployment { id attempt status statusReason viewerCan { cancel } environmentName completedAt release { id name } job { status waitingReason agent { name } }\n    jobs { id phase target logBase logSeq status startedAt finishedAt agent { name }\n      steps { id position name status startedAt finishedAt errorCount warningCount } }\n    targets { id target status resultReason waitingReason startedAt finishedAt } } }\n}": types.DeploymentDocument,
    "subscription LogBatches($id: ID!, $from: Int64, $max: Int) {\n  deploymentLogBatches(deploymentId: $id, fromSeq: $from, maxLines: $max) { fromSeq lastSeq texts steps }\n}": types.LogBatchesDocument,
    "query DeploymentsPage($first: Int, $after: Cursor, $last: Int, $before: Cursor, $filter: DeploymentsFilter) {\n  deployments(first: $first, after: $after, last: $last, before: $before, filter: $filter) {\n    totalCount\n    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }\n    edges { node {\n      id environmentName status operation attempt requestedBy reason statusReason createdAt startedAt completedAt\n      release { id name definition { id name } }\n    } }\n  }\n}": types.DeploymentsPageDocument,
    "query DeploymentsDefinitions {\n  definitions(first: 100, orderBy: {field: NAME, direction: ASC}) { edges { node { id name } } }\n}": types.DeploymentsDefinitionsDocument,
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
    "query AdminAgents($first: Int, $after: Cursor, $last: Int, $before: Cursor, $where: AgentWhereInput) {\n  agents(first: $first, after: $after, last: $last, before: $before, where: $where, orderBy: {field: NAME, direction: ASC}) {\n    totalCount\n    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }\n    edges { node { id name version enabled online lastSeenAt maxJobs tags pool { name } deploymentGroup { name } systemCapabilities userCapabilities } }\n  }\n  agentPools { id name }\n}": types.AdminAgentsDocument,
    "query AdminAgentRegistrations {\n  agentRegistrations { id createdAt pool deploymentGroup maxUses uses expiresAt createdBy revokedAt }\n}": types.AdminAgentRegistrationsDocument,
    "mutation AdminSetAgentEnabled($id: ID!, $enabled: Boolean!) { setAgentEnabled(id: $id, enabled: $enabled) { id enabled } }": types.AdminSetAgentEnabledDocument,
    "mutation AdminDeleteAgent($id: ID!) { deleteAgent(id: $id) }": types.AdminDeleteAgentDocument,
    "mutation AdminMoveAgent($id: ID!, $pool: String!) { moveAgent(agentId: $id, pool: $pool) { id pool { name } } }": types.AdminMoveAgentDocument,
    "mutation AdminCreateAgentRegistration($pool: String, $maxUses: Int, $hours: Int) {\n  createAgentRegistration(pool: $pool, maxUses: $maxUses, expiresInHours: $hours) { token registration { id pool } }\n}": types.AdminCreateAgentRegistrationDocument,
    "mutation AdminRevokeAgentRegistration($id: ID!) { revokeAgentRegistration(id: $id) { id revokedAt } }": types.AdminRevokeAgentRegistrationDocument,
    "query AdminDeploymentGroups {\n  deploymentGroups {\n    id name description mayUse { kind name }\n    targets { id name online enabled tags lastSeenAt lastDeployment { id } }\n  }\n  agentRegistrations { id createdAt pool deploymentGroup maxUses uses expiresAt createdBy revokedAt }\n}": types.AdminDeploymentGroupsDocument,
    "mutation AdminSaveDeploymentGroup($input: DeploymentGroupInput!) { saveDeploymentGroup(input: $input) { id name } }": types.AdminSaveDeploymentGroupDocument,
    "mutation AdminDeleteDeploymentGroup($name: String!) { deleteDeploymentGroup(name: $name) }": types.AdminDeleteDeploymentGroupDocument,
    "mutation AdminSetTargetTags($id: ID!, $tags: [String!]!) { setTargetTags(agentId: $id, tags: $tags) { id tags } }": types.AdminSetTargetTagsDocument,
    "mutation AdminCreateTargetRegistration($group: String!, $maxUses: Int, $hours: Int) {\n  createTargetRegistration(deploymentGroup: $group, maxUses: $maxUses, expiresInHours: $hours) { token registration { id deploymentGroup } }\n}": types.AdminCreateTargetRegistrationDocument,
    "mutation AdminRevokeTargetRegistration($id: ID!) { revokeAgentRegistration(id: $id) { id revokedAt } }": types.AdminRevokeTargetRegistrationDocument,
    "query AdminGroups($first: Int, $after: Cursor, $last: Int, $before: Cursor, $where: GroupWhereInput) {\n  groups(first: $first, after: $after, last: $last, before: $before, where: $where, orderBy: {field: NAME, direction: ASC}) {\n    totalCount\n    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }\n    edges { node { id name description members { id username displayName disabled } } }\n  }\n  users(first: 500, orderBy: {field: USERNAME, direction: ASC}, where: {disabled: false}) { edges { node { id username } } }\n}": types.AdminGroupsDocument,
    "mutation AdminCreateGroup($input: NewGroupInput!) { createGroup(input: $input) { id name } }": types.AdminCreateGroupDocument,
    "mutation AdminUpdateGroup($id: ID!, $input: GroupPatchInput!) { updateGroup(id: $id, input: $input) { id name description } }": types.AdminUpdateGroupDocument,
    "mutation AdminDeleteGroup($id: ID!) { deleteGroup(id: $id) }": types.AdminDeleteGroupDocument,
    "mutation AdminAddGroupMember($group: ID!, $user: ID!) { addGroupMember(groupId: $group, userId: $user) { id members { id } } }": types.AdminAddGroupMemberDocument,
    "mutation AdminRemoveGroupMember($group: ID!, $user: ID!) { removeGroupMember(groupId: $group, userId: $user) { id members { id } } }": types.AdminRemoveGroupMemberDocument,
    "query AdminPools {\n  agentPools { id name description createdAt mayUse { kind name } agents { id name online enabled } }\n}": types.AdminPoolsDocument,
    "mutation AdminSaveAgentPool($input: AgentPoolInput!) { saveAgentPool(input: $input) { id name } }": types.AdminSaveAgentPoolDocument,
    "query AdminMyTokens {\n  viewer { user { id username } }\n  myApiTokens { id name createdAt expiresAt revokedAt lastUsedAt scopes }\n  users(first: 500, orderBy: {field: USERNAME, direction: ASC}) { edges { node { id username disabled } } }\n}": types.AdminMyTokensDocument,
    "query AdminUserTokens($id: ID!) {\n  userApiTokens(userId: $id) { id name createdAt expiresAt revokedAt lastUsedAt scopes }\n}": types.AdminUserTokensDocument,
    "mutation AdminCreateApiToken($input: NewApiTokenInput!) { createApiToken(input: $input) { token apiToken { id name owner { username } } } }": types.AdminCreateApiTokenDocument,
    "mutation AdminRevokeApiToken($id: ID!) { revokeApiToken(id: $id) { id revokedAt } }": types.AdminRevokeApiTokenDocument,
    "query AdminUsers($first: Int, $after: Cursor, $last: Int, $before: Cursor, $where: UserWhereInput) {\n  users(first: $first, after: $after, last: $last, before: $before, where: $where, orderBy: {field: USERNAME, direction: ASC}) {\n    totalCount\n    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }\n    edges { node { id username displayName email role disabled hasPassword createdAt groups { id name } } }\n  }\n}": types.AdminUsersDocument,
    "mutation AdminCreateUser($input: NewUserInput!) { createUser(input: $input) { id username } }": types.AdminCreateUserDocument,
    "mutation AdminUpdateUser($id: ID!, $input: UserPatchInput!) { updateUser(id: $id, input: $input) { id role disabled } }": types.AdminUpdateUserDocument,
    "mutation AdminDisableUser($id: ID!) { disableUser(id: $id) { id disabled } }": types.AdminDisableUserDocument,
    "mutation AdminSetUserPassword($id: ID!, $password: String!) { setUserPassword(id: $id, password: $password) { id hasPassword } }": types.AdminSetUserPasswordDocument,
    "query DesignerBuilds($source: ArtifactSourceInput!) {\n  sourceBuilds(source: $source, first: 10) { buildId buildNumber branch commit buildUrl result finishedAt }\n}": types.DesignerBuildsDocument,
    "fragment DesignerSnapshot on DefinitionSnapshot {\n  name description releaseNameFormat path tags disabled readers variableGroups\n  variables { name value secret settableAtReleaseTime }\n  artifactSources { alias type connection job project repositoryUrl primary continuousDeployment branchFilters allowPartial }\n  schedules { cron timeZone scheduleOnlyWithChanges }\n  permissions {\n    editDefinition { kind name } createReleases { kind name } manageDeployments { kind name }\n    manageApprovals { kind name } overrideArtifactChecks { kind name } managePermissions { kind name }\n  }\n  environments {\n    name owner variableGroups\n    trigger { kind environments allowPartiallySucceeded }\n    preApproval { ...DesignerApproval }\n    postApproval { ...DesignerApproval }\n    preGates { ...DesignerGates }\n    postGates { ...DesignerGates }\n    job { demands timeoutMinutes skipArtifactDownload secureFiles tasks { ...DesignerTask } }\n    phases { kind name condition timeoutMinutes pool demands skipArtifactDownload secureFiles deploymentGroup tags maxParallel failureThreshold offlineTargets tasks { ...DesignerTask } }\n    queue { maxParallel mode }\n    variables { name value secret settableAtReleaseTime }\n    permissions { editEnvironment { kind name } manageDeployments { kind name } manageApprovals { kind name } }\n    retention { daysToKeep releasesToKeep retainBuild }\n  }\n}": types.DesignerSnapshotFragmentDoc,
    "fragment DesignerApproval on ApprovalPolicy {\n  approvers { kind name } mode requiredCount requesterCannotApprove timeoutMinutes skipIfApprovedInPreviousEnvironment\n}": types.DesignerApprovalFragmentDoc,
    "fragment DesignerGates on GatePolicy {\n  order delayMinutes intervalMinutes timeoutMinutes minimumSuccessMinutes\n  gates { name kind http { method url headers { name value } body successCriteria timeoutSeconds } workItems { types states tags maxCount } }\n}": types.DesignerGatesFragmentDoc,
    "fragment DesignerTask on Task {\n  name kind shell script workingDirectory env timeoutMinutes continueOnError disabled instructions\n  approvers { kind name } onTimeout condition uses inputs\n  http { method url headers { name value } body successCriteria timeoutSeconds }\n}": types.DesignerTaskFragmentDoc,
    "query DesignerDefinition($id: ID!) {\n  definition(id: $id) {\n    id name revision viewerCan { editDefinition }\n    revisions(first: 1, orderBy: {field: REVISION, direction: DESC}) {\n      edges { node { revision author comment snapshot { ...DesignerSnapshot } } }\n    }\n  }\n}": types.DesignerDefinitionDocument,
    "query DesignerCatalogue {\n  taskTemplates { name version major description category inputs { name type required default options help connectionKind replaces } }\n  variableGroups { id name }\n}": types.DesignerCatalogueDocument,
    "query DesignerConnections { serviceConnections(first: 100) { edges { node { id name kind } } } }": types.DesignerConnectionsDocument,
    "mutation DesignerCreate($input: DefinitionInput!, $comment: String) { createDefinition(input: $input, comment: $comment) { id revision } }": types.DesignerCreateDocument,
    "mutation DesignerUpdate($id: ID!, $rev: Int!, $input: DefinitionInput!, $comment: String) {\n  updateDefinition(id: $id, expectedRevision: $rev, input: $input, comment: $comment) { id revision }\n}": types.DesignerUpdateDocument,
    "query DesignerFreezeWindows($id: ID!) {\n  freezeWindows(definitionId: $id) { id name reason environment mode startsAt endsAt cron durationMinutes timeZone active }\n}": types.DesignerFreezeWindowsDocument,
    "mutation DesignerCreateFreezeWindow($input: FreezeWindowInput!) { createFreezeWindow(input: $input) { id } }": types.DesignerCreateFreezeWindowDocument,
    "mutation DesignerDeleteFreezeWindow($id: ID!) { deleteFreezeWindow(id: $id) }": types.DesignerDeleteFreezeWindowDocument,
    "query PrincipalCandidates($search: String!) {\n  principalCandidates(search: $search, first: 8) { kind name detail }\n}": types.PrincipalCandidatesDocument,
    "query FreezeWindowsPage {\n  freezeWindows {\n    id name reason definitionID environment mode startsAt endsAt cron durationMinutes timeZone createdBy\n    active activeUntil nextStartsAt\n  }\n}": types.FreezeWindowsPageDocument,
    "mutation CreateFreezeWindowForm($input: FreezeWindowInput!) { createFreezeWindow(input: $input) { id name } }": types.CreateFreezeWindowFormDocument,
    "mutation UpdateFreezeWindowForm($id: ID!, $input: FreezeWindowInput!) { updateFreezeWindow(id: $id, input: $input) { id name } }": types.UpdateFreezeWindowFormDocument,
    "mutation DeleteFreezeWindowForm($id: ID!) { deleteFreezeWindow(id: $id) }": types.DeleteFreezeWindowFormDocument,
    "mutation ImportDefinitionsForm($documents: [String!]!, $dryRun: Boolean, $mapping: ImportMappingInput, $comment: String) {\n  importDefinitions(format: AZURE_CLASSIC, documents: $documents, dryRun: $dryRun, mapping: $mapping, comment: $comment) {\n    dryRun applied\n    definitions {\n      document sourceId sourceRevision sourceUrl name action input valid existingDefinitionId\n      definition { id name }\n      findings { path status message }\n    }\n  }\n}": types.ImportDefinitionsFormDocument,
    "query OutgoingHooksPage {\n  outgoingHooks(first: 100, orderBy: {field: CREATED_AT, direction: DESC}) {\n    totalCount\n    edges { node { id name url eventTypes definitionID slack enabled hasSecret updatedAt } }\n  }\n  hookEventTypes\n}": types.OutgoingHooksPageDocument,
    "query HookDeliveriesPage($hookId: ID!, $first: Int, $after: Cursor, $last: Int, $before: Cursor, $where: HookDeliveryWhereInput) {\n  hookDeliveries(hookId: $hookId, first: $first, after: $after, last: $last, before: $before, where: $where, orderBy: {field: CREATED_AT, direction: DESC}) {\n    totalCount\n    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }\n    edges { node { id createdAt eventSequence eventType deliveryID status attempts responseCode lastError nextAttemptAt deliveredAt redelivery redeliveryOf { id } } }\n  }\n}": types.HookDeliveriesPageDocument,
    "mutation RedeliverHookDelivery($id: ID!) { redeliverHookDelivery(id: $id) { id redelivery } }": types.RedeliverHookDeliveryDocument,
    "mutation CreateOutgoingHookForm($input: NewOutgoingHookInput!) { createOutgoingHook(input: $input) { id name } }": types.CreateOutgoingHookFormDocument,
    "mutation UpdateOutgoingHookForm($id: ID!, $input: OutgoingHookPatchInput!) { updateOutgoingHook(id: $id, input: $input) { id name } }": types.UpdateOutgoingHookFormDocument,
    "mutation DeleteOutgoingHookForm($id: ID!) { deleteOutgoingHook(id: $id) }": types.DeleteOutgoingHookFormDocument,
    "query SecureFilesPage {\n  secureFiles {\n    id name description size sha256 createdBy updatedAt usedBy\n    permissions { use { kind name } administer { kind name } read { kind name } }\n    viewerCan { use administer read }\n  }\n}": types.SecureFilesPageDocument,
    "mutation UpdateSecureFileForm($id: ID!, $description: String, $permissions: LibraryPermissionsInput) {\n  updateSecureFile(id: $id, description: $description, permissions: $permissions) { id name }\n}": types.UpdateSecureFileFormDocument,
    "mutation DeleteSecureFileForm($id: ID!) { deleteSecureFile(id: $id) }": types.DeleteSecureFileFormDocument,
    "query ServiceConnectionsPage($first: Int, $after: Cursor, $last: Int, $before: Cursor, $where: ServiceConnectionWhereInput) {\n  serviceConnections(first: $first, after: $after, last: $last, before: $before, where: $where, orderBy: {field: CREATED_AT, direction: DESC}) {\n    totalCount\n    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }\n    edges { node {\n      id name kind url username host port hostKey trustOnFirstUse kubeContext namespace updatedAt\n      hasSecret hasWebhookSecret hasPrivateKey hasKubeconfig usedBy\n    } }\n  }\n}": types.ServiceConnectionsPageDocument,
    "mutation CreateServiceConnectionForm($input: NewServiceConnectionInput!) {\n  createServiceConnection(input: $input) { id name }\n}": types.CreateServiceConnectionFormDocument,
    "mutation UpdateServiceConnectionForm($id: ID!, $input: ServiceConnectionPatchInput!) {\n  updateServiceConnection(id: $id, input: $input) { id name }\n}": types.UpdateServiceConnectionFormDocument,
    "mutation DeleteServiceConnectionForm($id: ID!) { deleteServiceConnection(id: $id) }": types.DeleteServiceConnectionFormDocument,
    "query TaskLibraryPage {\n  taskTemplates {\n    name version major description category shell script runner demands builtin usedBy\n    inputs { name type required default options help connectionKind replaces }\n    steps { name uses inputs condition continueOnError }\n  }\n}": types.TaskLibraryPageDocument,
    "mutation CreateTaskTemplateForm($input: TaskTemplateInput!) { createTaskTemplate(input: $input) { name version } }": types.CreateTaskTemplateFormDocument,
    "mutation UpdateTaskTemplateForm($input: TaskTemplateInput!) { updateTaskTemplate(input: $input) { name version } }": types.UpdateTaskTemplateFormDocument,
    "mutation DeleteTaskTemplateForm($name: String!, $version: String!) { deleteTaskTemplate(name: $name, version: $version) }": types.DeleteTaskTemplateFormDocument,
    "query VariableGroupsPage {\n  variableGroups {\n    id name description revision createdBy updatedAt usedBy\n    variables { name value secret settableAtReleaseTime }\n    permissions { use { kind name } administer { kind name } read { kind name } }\n    viewerCan { use administer read }\n  }\n}": types.VariableGroupsPageDocument,
    "mutation CreateVariableGroupForm($input: VariableGroupInput!, $comment: String) { createVariableGroup(input: $input, comment: $comment) { id name } }": types.CreateVariableGroupFormDocument,
    "mutation UpdateVariableGroupForm($id: ID!, $rev: Int!, $input: VariableGroupInput!, $comment: String) {\n  updateVariableGroup(id: $id, expectedRevision: $rev, input: $input, comment: $comment) { id name revision }\n}": types.UpdateVariableGroupFormDocument,
    "mutation DeleteVariableGroupForm($id: ID!) { deleteVariableGroup(id: $id) }": types.DeleteVariableGroupFormDocument,
    "query LibraryDefinitions {\n  definitions(first: 100, orderBy: {field: NAME, direction: ASC}) {\n    totalCount\n    edges { node { id name environments { name rank } } }\n  }\n}": types.LibraryDefinitionsDocument,
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
export function graphql(source: "subscription IdentityEvents { identityEvents { __typename targetType targetId action } }"): (typeof documents)["subscription IdentityEvents { identityEvents { __typename targetType targetId action } }"];
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
export function graphql(source: "query CreateReleaseInfo($id: ID!) {\n  definition(id: $id) {\n    id name\n    releaseTimeVariables { name value secret declaredIn }\n    artifactSources { alias type job primary branchFilters }\n    environments { name rank trigger { kind environments } }\n  }\n}"): (typeof documents)["query CreateReleaseInfo($id: ID!) {\n  definition(id: $id) {\n    id name\n    releaseTimeVariables { name value secret declaredIn }\n    artifactSources { alias type job primary branchFilters }\n    environments { name rank trigger { kind environments } }\n  }\n}"];
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
export function graphql(source: "query Definition($id: ID!) {\n  definition(id: $id) {\n    id name description revision\n    viewerCan { editDefinition createReleases }\n    environments { name rank }\n    releases(first: 30, orderBy: {field: CREATED_AT, direction: DESC}) {\n      edges { node { id name status createdAt createdBy environments { id name rank status } } }\n    }\n  }\n}"): (typeof documents)["query Definition($id: ID!) {\n  definition(id: $id) {\n    id name description revision\n    viewerCan { editDefinition createReleases }\n    environments { name rank }\n    releases(first: 30, orderBy: {field: CREATED_AT, direction: DESC}) {\n      edges { node { id name status createdAt createdBy environments { id name rank status } } }\n    }\n  }\n}"];
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
export function graphql(source: "query DeploymentsPage($first: Int, $after: Cursor, $last: Int, $before: Cursor, $filter: DeploymentsFilter) {\n  deployments(first: $first, after: $after, last: $last, before: $before, filter: $filter) {\n    totalCount\n    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }\n    edges { node {\n      id environmentName status operation attempt requestedBy reason statusReason createdAt startedAt completedAt\n      release { id name definition { id name } }\n    } }\n  }\n}"): (typeof documents)["query DeploymentsPage($first: Int, $after: Cursor, $last: Int, $before: Cursor, $filter: DeploymentsFilter) {\n  deployments(first: $first, after: $after, last: $last, before: $before, filter: $filter) {\n    totalCount\n    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }\n    edges { node {\n      id environmentName status operation attempt requestedBy reason statusReason createdAt startedAt completedAt\n      release { id name definition { id name } }\n    } }\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query DeploymentsDefinitions {\n  definitions(first: 100, orderBy: {field: NAME, direction: ASC}) { edges { node { id name } } }\n}"): (typeof documents)["query DeploymentsDefinitions {\n  definitions(first: 100, orderBy: {field: NAME, direction: ASC}) { edges { node { id name } } }\n}"];
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
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query AdminAgents($first: Int, $after: Cursor, $last: Int, $before: Cursor, $where: AgentWhereInput) {\n  agents(first: $first, after: $after, last: $last, before: $before, where: $where, orderBy: {field: NAME, direction: ASC}) {\n    totalCount\n    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }\n    edges { node { id name version enabled online lastSeenAt maxJobs tags pool { name } deploymentGroup { name } systemCapabilities userCapabilities } }\n  }\n  agentPools { id name }\n}"): (typeof documents)["query AdminAgents($first: Int, $after: Cursor, $last: Int, $before: Cursor, $where: AgentWhereInput) {\n  agents(first: $first, after: $after, last: $last, before: $before, where: $where, orderBy: {field: NAME, direction: ASC}) {\n    totalCount\n    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }\n    edges { node { id name version enabled online lastSeenAt maxJobs tags pool { name } deploymentGroup { name } systemCapabilities userCapabilities } }\n  }\n  agentPools { id name }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query AdminAgentRegistrations {\n  agentRegistrations { id createdAt pool deploymentGroup maxUses uses expiresAt createdBy revokedAt }\n}"): (typeof documents)["query AdminAgentRegistrations {\n  agentRegistrations { id createdAt pool deploymentGroup maxUses uses expiresAt createdBy revokedAt }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation AdminSetAgentEnabled($id: ID!, $enabled: Boolean!) { setAgentEnabled(id: $id, enabled: $enabled) { id enabled } }"): (typeof documents)["mutation AdminSetAgentEnabled($id: ID!, $enabled: Boolean!) { setAgentEnabled(id: $id, enabled: $enabled) { id enabled } }"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation AdminDeleteAgent($id: ID!) { deleteAgent(id: $id) }"): (typeof documents)["mutation AdminDeleteAgent($id: ID!) { deleteAgent(id: $id) }"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation AdminMoveAgent($id: ID!, $pool: String!) { moveAgent(agentId: $id, pool: $pool) { id pool { name } } }"): (typeof documents)["mutation AdminMoveAgent($id: ID!, $pool: String!) { moveAgent(agentId: $id, pool: $pool) { id pool { name } } }"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation AdminCreateAgentRegistration($pool: String, $maxUses: Int, $hours: Int) {\n  createAgentRegistration(pool: $pool, maxUses: $maxUses, expiresInHours: $hours) { token registration { id pool } }\n}"): (typeof documents)["mutation AdminCreateAgentRegistration($pool: String, $maxUses: Int, $hours: Int) {\n  createAgentRegistration(pool: $pool, maxUses: $maxUses, expiresInHours: $hours) { token registration { id pool } }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation AdminRevokeAgentRegistration($id: ID!) { revokeAgentRegistration(id: $id) { id revokedAt } }"): (typeof documents)["mutation AdminRevokeAgentRegistration($id: ID!) { revokeAgentRegistration(id: $id) { id revokedAt } }"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query AdminDeploymentGroups {\n  deploymentGroups {\n    id name description mayUse { kind name }\n    targets { id name online enabled tags lastSeenAt lastDeployment { id } }\n  }\n  agentRegistrations { id createdAt pool deploymentGroup maxUses uses expiresAt createdBy revokedAt }\n}"): (typeof documents)["query AdminDeploymentGroups {\n  deploymentGroups {\n    id name description mayUse { kind name }\n    targets { id name online enabled tags lastSeenAt lastDeployment { id } }\n  }\n  agentRegistrations { id createdAt pool deploymentGroup maxUses uses expiresAt createdBy revokedAt }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation AdminSaveDeploymentGroup($input: DeploymentGroupInput!) { saveDeploymentGroup(input: $input) { id name } }"): (typeof documents)["mutation AdminSaveDeploymentGroup($input: DeploymentGroupInput!) { saveDeploymentGroup(input: $input) { id name } }"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation AdminDeleteDeploymentGroup($name: String!) { deleteDeploymentGroup(name: $name) }"): (typeof documents)["mutation AdminDeleteDeploymentGroup($name: String!) { deleteDeploymentGroup(name: $name) }"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation AdminSetTargetTags($id: ID!, $tags: [String!]!) { setTargetTags(agentId: $id, tags: $tags) { id tags } }"): (typeof documents)["mutation AdminSetTargetTags($id: ID!, $tags: [String!]!) { setTargetTags(agentId: $id, tags: $tags) { id tags } }"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation AdminCreateTargetRegistration($group: String!, $maxUses: Int, $hours: Int) {\n  createTargetRegistration(deploymentGroup: $group, maxUses: $maxUses, expiresInHours: $hours) { token registration { id deploymentGroup } }\n}"): (typeof documents)["mutation AdminCreateTargetRegistration($group: String!, $maxUses: Int, $hours: Int) {\n  createTargetRegistration(deploymentGroup: $group, maxUses: $maxUses, expiresInHours: $hours) { token registration { id deploymentGroup } }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation AdminRevokeTargetRegistration($id: ID!) { revokeAgentRegistration(id: $id) { id revokedAt } }"): (typeof documents)["mutation AdminRevokeTargetRegistration($id: ID!) { revokeAgentRegistration(id: $id) { id revokedAt } }"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query AdminGroups($first: Int, $after: Cursor, $last: Int, $before: Cursor, $where: GroupWhereInput) {\n  groups(first: $first, after: $after, last: $last, before: $before, where: $where, orderBy: {field: NAME, direction: ASC}) {\n    totalCount\n    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }\n    edges { node { id name description members { id username displayName disabled } } }\n  }\n  users(first: 500, orderBy: {field: USERNAME, direction: ASC}, where: {disabled: false}) { edges { node { id username } } }\n}"): (typeof documents)["query AdminGroups($first: Int, $after: Cursor, $last: Int, $before: Cursor, $where: GroupWhereInput) {\n  groups(first: $first, after: $after, last: $last, before: $before, where: $where, orderBy: {field: NAME, direction: ASC}) {\n    totalCount\n    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }\n    edges { node { id name description members { id username displayName disabled } } }\n  }\n  users(first: 500, orderBy: {field: USERNAME, direction: ASC}, where: {disabled: false}) { edges { node { id username } } }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation AdminCreateGroup($input: NewGroupInput!) { createGroup(input: $input) { id name } }"): (typeof documents)["mutation AdminCreateGroup($input: NewGroupInput!) { createGroup(input: $input) { id name } }"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation AdminUpdateGroup($id: ID!, $input: GroupPatchInput!) { updateGroup(id: $id, input: $input) { id name description } }"): (typeof documents)["mutation AdminUpdateGroup($id: ID!, $input: GroupPatchInput!) { updateGroup(id: $id, input: $input) { id name description } }"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation AdminDeleteGroup($id: ID!) { deleteGroup(id: $id) }"): (typeof documents)["mutation AdminDeleteGroup($id: ID!) { deleteGroup(id: $id) }"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation AdminAddGroupMember($group: ID!, $user: ID!) { addGroupMember(groupId: $group, userId: $user) { id members { id } } }"): (typeof documents)["mutation AdminAddGroupMember($group: ID!, $user: ID!) { addGroupMember(groupId: $group, userId: $user) { id members { id } } }"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation AdminRemoveGroupMember($group: ID!, $user: ID!) { removeGroupMember(groupId: $group, userId: $user) { id members { id } } }"): (typeof documents)["mutation AdminRemoveGroupMember($group: ID!, $user: ID!) { removeGroupMember(groupId: $group, userId: $user) { id members { id } } }"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query AdminPools {\n  agentPools { id name description createdAt mayUse { kind name } agents { id name online enabled } }\n}"): (typeof documents)["query AdminPools {\n  agentPools { id name description createdAt mayUse { kind name } agents { id name online enabled } }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation AdminSaveAgentPool($input: AgentPoolInput!) { saveAgentPool(input: $input) { id name } }"): (typeof documents)["mutation AdminSaveAgentPool($input: AgentPoolInput!) { saveAgentPool(input: $input) { id name } }"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query AdminMyTokens {\n  viewer { user { id username } }\n  myApiTokens { id name createdAt expiresAt revokedAt lastUsedAt scopes }\n  users(first: 500, orderBy: {field: USERNAME, direction: ASC}) { edges { node { id username disabled } } }\n}"): (typeof documents)["query AdminMyTokens {\n  viewer { user { id username } }\n  myApiTokens { id name createdAt expiresAt revokedAt lastUsedAt scopes }\n  users(first: 500, orderBy: {field: USERNAME, direction: ASC}) { edges { node { id username disabled } } }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query AdminUserTokens($id: ID!) {\n  userApiTokens(userId: $id) { id name createdAt expiresAt revokedAt lastUsedAt scopes }\n}"): (typeof documents)["query AdminUserTokens($id: ID!) {\n  userApiTokens(userId: $id) { id name createdAt expiresAt revokedAt lastUsedAt scopes }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation AdminCreateApiToken($input: NewApiTokenInput!) { createApiToken(input: $input) { token apiToken { id name owner { username } } } }"): (typeof documents)["mutation AdminCreateApiToken($input: NewApiTokenInput!) { createApiToken(input: $input) { token apiToken { id name owner { username } } } }"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation AdminRevokeApiToken($id: ID!) { revokeApiToken(id: $id) { id revokedAt } }"): (typeof documents)["mutation AdminRevokeApiToken($id: ID!) { revokeApiToken(id: $id) { id revokedAt } }"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query AdminUsers($first: Int, $after: Cursor, $last: Int, $before: Cursor, $where: UserWhereInput) {\n  users(first: $first, after: $after, last: $last, before: $before, where: $where, orderBy: {field: USERNAME, direction: ASC}) {\n    totalCount\n    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }\n    edges { node { id username displayName email role disabled hasPassword createdAt groups { id name } } }\n  }\n}"): (typeof documents)["query AdminUsers($first: Int, $after: Cursor, $last: Int, $before: Cursor, $where: UserWhereInput) {\n  users(first: $first, after: $after, last: $last, before: $before, where: $where, orderBy: {field: USERNAME, direction: ASC}) {\n    totalCount\n    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }\n    edges { node { id username displayName email role disabled hasPassword createdAt groups { id name } } }\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation AdminCreateUser($input: NewUserInput!) { createUser(input: $input) { id username } }"): (typeof documents)["mutation AdminCreateUser($input: NewUserInput!) { createUser(input: $input) { id username } }"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation AdminUpdateUser($id: ID!, $input: UserPatchInput!) { updateUser(id: $id, input: $input) { id role disabled } }"): (typeof documents)["mutation AdminUpdateUser($id: ID!, $input: UserPatchInput!) { updateUser(id: $id, input: $input) { id role disabled } }"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation AdminDisableUser($id: ID!) { disableUser(id: $id) { id disabled } }"): (typeof documents)["mutation AdminDisableUser($id: ID!) { disableUser(id: $id) { id disabled } }"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation AdminSetUserPassword($id: ID!, $password: String!) { setUserPassword(id: $id, password: $password) { id hasPassword } }"): (typeof documents)["mutation AdminSetUserPassword($id: ID!, $password: String!) { setUserPassword(id: $id, password: $password) { id hasPassword } }"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query DesignerBuilds($source: ArtifactSourceInput!) {\n  sourceBuilds(source: $source, first: 10) { buildId buildNumber branch commit buildUrl result finishedAt }\n}"): (typeof documents)["query DesignerBuilds($source: ArtifactSourceInput!) {\n  sourceBuilds(source: $source, first: 10) { buildId buildNumber branch commit buildUrl result finishedAt }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "fragment DesignerSnapshot on DefinitionSnapshot {\n  name description releaseNameFormat path tags disabled readers variableGroups\n  variables { name value secret settableAtReleaseTime }\n  artifactSources { alias type connection job project repositoryUrl primary continuousDeployment branchFilters allowPartial }\n  schedules { cron timeZone scheduleOnlyWithChanges }\n  permissions {\n    editDefinition { kind name } createReleases { kind name } manageDeployments { kind name }\n    manageApprovals { kind name } overrideArtifactChecks { kind name } managePermissions { kind name }\n  }\n  environments {\n    name owner variableGroups\n    trigger { kind environments allowPartiallySucceeded }\n    preApproval { ...DesignerApproval }\n    postApproval { ...DesignerApproval }\n    preGates { ...DesignerGates }\n    postGates { ...DesignerGates }\n    job { demands timeoutMinutes skipArtifactDownload secureFiles tasks { ...DesignerTask } }\n    phases { kind name condition timeoutMinutes pool demands skipArtifactDownload secureFiles deploymentGroup tags maxParallel failureThreshold offlineTargets tasks { ...DesignerTask } }\n    queue { maxParallel mode }\n    variables { name value secret settableAtReleaseTime }\n    permissions { editEnvironment { kind name } manageDeployments { kind name } manageApprovals { kind name } }\n    retention { daysToKeep releasesToKeep retainBuild }\n  }\n}"): (typeof documents)["fragment DesignerSnapshot on DefinitionSnapshot {\n  name description releaseNameFormat path tags disabled readers variableGroups\n  variables { name value secret settableAtReleaseTime }\n  artifactSources { alias type connection job project repositoryUrl primary continuousDeployment branchFilters allowPartial }\n  schedules { cron timeZone scheduleOnlyWithChanges }\n  permissions {\n    editDefinition { kind name } createReleases { kind name } manageDeployments { kind name }\n    manageApprovals { kind name } overrideArtifactChecks { kind name } managePermissions { kind name }\n  }\n  environments {\n    name owner variableGroups\n    trigger { kind environments allowPartiallySucceeded }\n    preApproval { ...DesignerApproval }\n    postApproval { ...DesignerApproval }\n    preGates { ...DesignerGates }\n    postGates { ...DesignerGates }\n    job { demands timeoutMinutes skipArtifactDownload secureFiles tasks { ...DesignerTask } }\n    phases { kind name condition timeoutMinutes pool demands skipArtifactDownload secureFiles deploymentGroup tags maxParallel failureThreshold offlineTargets tasks { ...DesignerTask } }\n    queue { maxParallel mode }\n    variables { name value secret settableAtReleaseTime }\n    permissions { editEnvironment { kind name } manageDeployments { kind name } manageApprovals { kind name } }\n    retention { daysToKeep releasesToKeep retainBuild }\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "fragment DesignerApproval on ApprovalPolicy {\n  approvers { kind name } mode requiredCount requesterCannotApprove timeoutMinutes skipIfApprovedInPreviousEnvironment\n}"): (typeof documents)["fragment DesignerApproval on ApprovalPolicy {\n  approvers { kind name } mode requiredCount requesterCannotApprove timeoutMinutes skipIfApprovedInPreviousEnvironment\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "fragment DesignerGates on GatePolicy {\n  order delayMinutes intervalMinutes timeoutMinutes minimumSuccessMinutes\n  gates { name kind http { method url headers { name value } body successCriteria timeoutSeconds } workItems { types states tags maxCount } }\n}"): (typeof documents)["fragment DesignerGates on GatePolicy {\n  order delayMinutes intervalMinutes timeoutMinutes minimumSuccessMinutes\n  gates { name kind http { method url headers { name value } body successCriteria timeoutSeconds } workItems { types states tags maxCount } }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "fragment DesignerTask on Task {\n  name kind shell script workingDirectory env timeoutMinutes continueOnError disabled instructions\n  approvers { kind name } onTimeout condition uses inputs\n  http { method url headers { name value } body successCriteria timeoutSeconds }\n}"): (typeof documents)["fragment DesignerTask on Task {\n  name kind shell script workingDirectory env timeoutMinutes continueOnError disabled instructions\n  approvers { kind name } onTimeout condition uses inputs\n  http { method url headers { name value } body successCriteria timeoutSeconds }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query DesignerDefinition($id: ID!) {\n  definition(id: $id) {\n    id name revision viewerCan { editDefinition }\n    revisions(first: 1, orderBy: {field: REVISION, direction: DESC}) {\n      edges { node { revision author comment snapshot { ...DesignerSnapshot } } }\n    }\n  }\n}"): (typeof documents)["query DesignerDefinition($id: ID!) {\n  definition(id: $id) {\n    id name revision viewerCan { editDefinition }\n    revisions(first: 1, orderBy: {field: REVISION, direction: DESC}) {\n      edges { node { revision author comment snapshot { ...DesignerSnapshot } } }\n    }\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query DesignerCatalogue {\n  taskTemplates { name version major description category inputs { name type required default options help connectionKind replaces } }\n  variableGroups { id name }\n}"): (typeof documents)["query DesignerCatalogue {\n  taskTemplates { name version major description category inputs { name type required default options help connectionKind replaces } }\n  variableGroups { id name }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query DesignerConnections { serviceConnections(first: 100) { edges { node { id name kind } } } }"): (typeof documents)["query DesignerConnections { serviceConnections(first: 100) { edges { node { id name kind } } } }"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation DesignerCreate($input: DefinitionInput!, $comment: String) { createDefinition(input: $input, comment: $comment) { id revision } }"): (typeof documents)["mutation DesignerCreate($input: DefinitionInput!, $comment: String) { createDefinition(input: $input, comment: $comment) { id revision } }"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation DesignerUpdate($id: ID!, $rev: Int!, $input: DefinitionInput!, $comment: String) {\n  updateDefinition(id: $id, expectedRevision: $rev, input: $input, comment: $comment) { id revision }\n}"): (typeof documents)["mutation DesignerUpdate($id: ID!, $rev: Int!, $input: DefinitionInput!, $comment: String) {\n  updateDefinition(id: $id, expectedRevision: $rev, input: $input, comment: $comment) { id revision }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query DesignerFreezeWindows($id: ID!) {\n  freezeWindows(definitionId: $id) { id name reason environment mode startsAt endsAt cron durationMinutes timeZone active }\n}"): (typeof documents)["query DesignerFreezeWindows($id: ID!) {\n  freezeWindows(definitionId: $id) { id name reason environment mode startsAt endsAt cron durationMinutes timeZone active }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation DesignerCreateFreezeWindow($input: FreezeWindowInput!) { createFreezeWindow(input: $input) { id } }"): (typeof documents)["mutation DesignerCreateFreezeWindow($input: FreezeWindowInput!) { createFreezeWindow(input: $input) { id } }"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation DesignerDeleteFreezeWindow($id: ID!) { deleteFreezeWindow(id: $id) }"): (typeof documents)["mutation DesignerDeleteFreezeWindow($id: ID!) { deleteFreezeWindow(id: $id) }"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query PrincipalCandidates($search: String!) {\n  principalCandidates(search: $search, first: 8) { kind name detail }\n}"): (typeof documents)["query PrincipalCandidates($search: String!) {\n  principalCandidates(search: $search, first: 8) { kind name detail }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query FreezeWindowsPage {\n  freezeWindows {\n    id name reason definitionID environment mode startsAt endsAt cron durationMinutes timeZone createdBy\n    active activeUntil nextStartsAt\n  }\n}"): (typeof documents)["query FreezeWindowsPage {\n  freezeWindows {\n    id name reason definitionID environment mode startsAt endsAt cron durationMinutes timeZone createdBy\n    active activeUntil nextStartsAt\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation CreateFreezeWindowForm($input: FreezeWindowInput!) { createFreezeWindow(input: $input) { id name } }"): (typeof documents)["mutation CreateFreezeWindowForm($input: FreezeWindowInput!) { createFreezeWindow(input: $input) { id name } }"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation UpdateFreezeWindowForm($id: ID!, $input: FreezeWindowInput!) { updateFreezeWindow(id: $id, input: $input) { id name } }"): (typeof documents)["mutation UpdateFreezeWindowForm($id: ID!, $input: FreezeWindowInput!) { updateFreezeWindow(id: $id, input: $input) { id name } }"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation DeleteFreezeWindowForm($id: ID!) { deleteFreezeWindow(id: $id) }"): (typeof documents)["mutation DeleteFreezeWindowForm($id: ID!) { deleteFreezeWindow(id: $id) }"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation ImportDefinitionsForm($documents: [String!]!, $dryRun: Boolean, $mapping: ImportMappingInput, $comment: String) {\n  importDefinitions(format: AZURE_CLASSIC, documents: $documents, dryRun: $dryRun, mapping: $mapping, comment: $comment) {\n    dryRun applied\n    definitions {\n      document sourceId sourceRevision sourceUrl name action input valid existingDefinitionId\n      definition { id name }\n      findings { path status message }\n    }\n  }\n}"): (typeof documents)["mutation ImportDefinitionsForm($documents: [String!]!, $dryRun: Boolean, $mapping: ImportMappingInput, $comment: String) {\n  importDefinitions(format: AZURE_CLASSIC, documents: $documents, dryRun: $dryRun, mapping: $mapping, comment: $comment) {\n    dryRun applied\n    definitions {\n      document sourceId sourceRevision sourceUrl name action input valid existingDefinitionId\n      definition { id name }\n      findings { path status message }\n    }\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query OutgoingHooksPage {\n  outgoingHooks(first: 100, orderBy: {field: CREATED_AT, direction: DESC}) {\n    totalCount\n    edges { node { id name url eventTypes definitionID slack enabled hasSecret updatedAt } }\n  }\n  hookEventTypes\n}"): (typeof documents)["query OutgoingHooksPage {\n  outgoingHooks(first: 100, orderBy: {field: CREATED_AT, direction: DESC}) {\n    totalCount\n    edges { node { id name url eventTypes definitionID slack enabled hasSecret updatedAt } }\n  }\n  hookEventTypes\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query HookDeliveriesPage($hookId: ID!, $first: Int, $after: Cursor, $last: Int, $before: Cursor, $where: HookDeliveryWhereInput) {\n  hookDeliveries(hookId: $hookId, first: $first, after: $after, last: $last, before: $before, where: $where, orderBy: {field: CREATED_AT, direction: DESC}) {\n    totalCount\n    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }\n    edges { node { id createdAt eventSequence eventType deliveryID status attempts responseCode lastError nextAttemptAt deliveredAt redelivery redeliveryOf { id } } }\n  }\n}"): (typeof documents)["query HookDeliveriesPage($hookId: ID!, $first: Int, $after: Cursor, $last: Int, $before: Cursor, $where: HookDeliveryWhereInput) {\n  hookDeliveries(hookId: $hookId, first: $first, after: $after, last: $last, before: $before, where: $where, orderBy: {field: CREATED_AT, direction: DESC}) {\n    totalCount\n    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }\n    edges { node { id createdAt eventSequence eventType deliveryID status attempts responseCode lastError nextAttemptAt deliveredAt redelivery redeliveryOf { id } } }\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation RedeliverHookDelivery($id: ID!) { redeliverHookDelivery(id: $id) { id redelivery } }"): (typeof documents)["mutation RedeliverHookDelivery($id: ID!) { redeliverHookDelivery(id: $id) { id redelivery } }"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation CreateOutgoingHookForm($input: NewOutgoingHookInput!) { createOutgoingHook(input: $input) { id name } }"): (typeof documents)["mutation CreateOutgoingHookForm($input: NewOutgoingHookInput!) { createOutgoingHook(input: $input) { id name } }"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation UpdateOutgoingHookForm($id: ID!, $input: OutgoingHookPatchInput!) { updateOutgoingHook(id: $id, input: $input) { id name } }"): (typeof documents)["mutation UpdateOutgoingHookForm($id: ID!, $input: OutgoingHookPatchInput!) { updateOutgoingHook(id: $id, input: $input) { id name } }"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation DeleteOutgoingHookForm($id: ID!) { deleteOutgoingHook(id: $id) }"): (typeof documents)["mutation DeleteOutgoingHookForm($id: ID!) { deleteOutgoingHook(id: $id) }"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query SecureFilesPage {\n  secureFiles {\n    id name description size sha256 createdBy updatedAt usedBy\n    permissions { use { kind name } administer { kind name } read { kind name } }\n    viewerCan { use administer read }\n  }\n}"): (typeof documents)["query SecureFilesPage {\n  secureFiles {\n    id name description size sha256 createdBy updatedAt usedBy\n    permissions { use { kind name } administer { kind name } read { kind name } }\n    viewerCan { use administer read }\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation UpdateSecureFileForm($id: ID!, $description: String, $permissions: LibraryPermissionsInput) {\n  updateSecureFile(id: $id, description: $description, permissions: $permissions) { id name }\n}"): (typeof documents)["mutation UpdateSecureFileForm($id: ID!, $description: String, $permissions: LibraryPermissionsInput) {\n  updateSecureFile(id: $id, description: $description, permissions: $permissions) { id name }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation DeleteSecureFileForm($id: ID!) { deleteSecureFile(id: $id) }"): (typeof documents)["mutation DeleteSecureFileForm($id: ID!) { deleteSecureFile(id: $id) }"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query ServiceConnectionsPage($first: Int, $after: Cursor, $last: Int, $before: Cursor, $where: ServiceConnectionWhereInput) {\n  serviceConnections(first: $first, after: $after, last: $last, before: $before, where: $where, orderBy: {field: CREATED_AT, direction: DESC}) {\n    totalCount\n    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }\n    edges { node {\n      id name kind url username host port hostKey trustOnFirstUse kubeContext namespace updatedAt\n      hasSecret hasWebhookSecret hasPrivateKey hasKubeconfig usedBy\n    } }\n  }\n}"): (typeof documents)["query ServiceConnectionsPage($first: Int, $after: Cursor, $last: Int, $before: Cursor, $where: ServiceConnectionWhereInput) {\n  serviceConnections(first: $first, after: $after, last: $last, before: $before, where: $where, orderBy: {field: CREATED_AT, direction: DESC}) {\n    totalCount\n    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }\n    edges { node {\n      id name kind url username host port hostKey trustOnFirstUse kubeContext namespace updatedAt\n      hasSecret hasWebhookSecret hasPrivateKey hasKubeconfig usedBy\n    } }\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation CreateServiceConnectionForm($input: NewServiceConnectionInput!) {\n  createServiceConnection(input: $input) { id name }\n}"): (typeof documents)["mutation CreateServiceConnectionForm($input: NewServiceConnectionInput!) {\n  createServiceConnection(input: $input) { id name }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation UpdateServiceConnectionForm($id: ID!, $input: ServiceConnectionPatchInput!) {\n  updateServiceConnection(id: $id, input: $input) { id name }\n}"): (typeof documents)["mutation UpdateServiceConnectionForm($id: ID!, $input: ServiceConnectionPatchInput!) {\n  updateServiceConnection(id: $id, input: $input) { id name }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation DeleteServiceConnectionForm($id: ID!) { deleteServiceConnection(id: $id) }"): (typeof documents)["mutation DeleteServiceConnectionForm($id: ID!) { deleteServiceConnection(id: $id) }"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query TaskLibraryPage {\n  taskTemplates {\n    name version major description category shell script runner demands builtin usedBy\n    inputs { name type required default options help connectionKind replaces }\n    steps { name uses inputs condition continueOnError }\n  }\n}"): (typeof documents)["query TaskLibraryPage {\n  taskTemplates {\n    name version major description category shell script runner demands builtin usedBy\n    inputs { name type required default options help connectionKind replaces }\n    steps { name uses inputs condition continueOnError }\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation CreateTaskTemplateForm($input: TaskTemplateInput!) { createTaskTemplate(input: $input) { name version } }"): (typeof documents)["mutation CreateTaskTemplateForm($input: TaskTemplateInput!) { createTaskTemplate(input: $input) { name version } }"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation UpdateTaskTemplateForm($input: TaskTemplateInput!) { updateTaskTemplate(input: $input) { name version } }"): (typeof documents)["mutation UpdateTaskTemplateForm($input: TaskTemplateInput!) { updateTaskTemplate(input: $input) { name version } }"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation DeleteTaskTemplateForm($name: String!, $version: String!) { deleteTaskTemplate(name: $name, version: $version) }"): (typeof documents)["mutation DeleteTaskTemplateForm($name: String!, $version: String!) { deleteTaskTemplate(name: $name, version: $version) }"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query VariableGroupsPage {\n  variableGroups {\n    id name description revision createdBy updatedAt usedBy\n    variables { name value secret settableAtReleaseTime }\n    permissions { use { kind name } administer { kind name } read { kind name } }\n    viewerCan { use administer read }\n  }\n}"): (typeof documents)["query VariableGroupsPage {\n  variableGroups {\n    id name description revision createdBy updatedAt usedBy\n    variables { name value secret settableAtReleaseTime }\n    permissions { use { kind name } administer { kind name } read { kind name } }\n    viewerCan { use administer read }\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation CreateVariableGroupForm($input: VariableGroupInput!, $comment: String) { createVariableGroup(input: $input, comment: $comment) { id name } }"): (typeof documents)["mutation CreateVariableGroupForm($input: VariableGroupInput!, $comment: String) { createVariableGroup(input: $input, comment: $comment) { id name } }"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation UpdateVariableGroupForm($id: ID!, $rev: Int!, $input: VariableGroupInput!, $comment: String) {\n  updateVariableGroup(id: $id, expectedRevision: $rev, input: $input, comment: $comment) { id name revision }\n}"): (typeof documents)["mutation UpdateVariableGroupForm($id: ID!, $rev: Int!, $input: VariableGroupInput!, $comment: String) {\n  updateVariableGroup(id: $id, expectedRevision: $rev, input: $input, comment: $comment) { id name revision }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation DeleteVariableGroupForm($id: ID!) { deleteVariableGroup(id: $id) }"): (typeof documents)["mutation DeleteVariableGroupForm($id: ID!) { deleteVariableGroup(id: $id) }"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query LibraryDefinitions {\n  definitions(first: 100, orderBy: {field: NAME, direction: ASC}) {\n    totalCount\n    edges { node { id name environments { name rank } } }\n  }\n}"): (typeof documents)["query LibraryDefinitions {\n  definitions(first: 100, orderBy: {field: NAME, direction: ASC}) {\n    totalCount\n    edges { node { id name environments { name rank } } }\n  }\n}"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;