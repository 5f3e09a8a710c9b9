// One environment of the designer: trigger, approvals, gates, the deployment (a job, or
// phases) with its tasks, queue, variables and variable groups, permissions and its freeze
// windows.
import type { ApprovalPolicyInput, GatePolicyInput, VariableInput, GateInput } from '../../gql/graphql';
import { Check, Fieldset, FieldProblems as FieldErrorsOf, List, Num, Select, Text } from './fields';
import type { Env, Phase } from './model';
import { TaskList, type Connection, type Template } from './Tasks';
import { FreezeWindows } from './Freeze';
import { Approvers, HttpCall, Retention } from './parts';

type Props = {
  env: Env; index: number; names: string[]; catalogue: Map<string, Template>; connections: Connection[];
  groups: string[]; definitionId?: string; onChange: (e: Env) => void;
};

export function EnvironmentEditor({ env, index, names, catalogue, connections, groups, definitionId, onChange }: Props) {
  const p = `environments[${index}]`;
  const up = (patch: Partial<Env>) => onChange({ ...env, ...patch });
  const trigger = env.trigger ?? { kind: 'AFTER_RELEASE' as const };
  const others = names.filter((n) => n !== env.name);
  const phases = env.phases ?? [];
  return (
    <div className="env-editor" data-editing={env.name}>
      <h3>Environment {env.name}</h3>
      <div className="row">
        <Text path={`${p}.name`} label="Name" value={env.name} onChange={(v) => up({ name: v })} required />
        <Text path={`${p}.owner`} label="Owner" value={env.owner} onChange={(v) => up({ owner: v })} />
      </div>
      <Fieldset legend="Trigger">
        <div className="row">
          <Select path={`${p}.trigger.kind`} label="Deploys" value={trigger.kind}
            onChange={(v) => up({ trigger: { ...trigger, kind: v as typeof trigger.kind, environments: v === 'AFTER_ENVIRONMENTS' ? trigger.environments ?? (others[0] ? [others[0]] : []) : undefined } })}
            options={[['AFTER_RELEASE', 'After the release is created'], ['AFTER_ENVIRONMENTS', 'After other environments'], ['MANUAL', 'Only by hand']]} />
          {trigger.kind === 'AFTER_ENVIRONMENTS' && (
            <>
              <fieldset className="checks">
                <legend>After</legend>
                {others.map((n, j) => {
                  const id = `trig-${index}-${j}`;
                  const on = (trigger.environments ?? []).includes(n);
                  return (
                    <span key={n} className="check">
                      <input id={id} type="checkbox" checked={on} onChange={(e) => up({ trigger: { ...trigger, environments: e.target.checked ? [...(trigger.environments ?? []), n] : (trigger.environments ?? []).filter((x) => x !== n) } })} />
                      <label htmlFor={id}>{n}</label>
                    </span>
                  );
                })}
              </fieldset>
              <Check path={`${p}.trigger.allowPartiallySucceeded`} label="Also after partial success" value={trigger.allowPartiallySucceeded} onChange={(v) => up({ trigger: { ...trigger, allowPartiallySucceeded: v } })} />
            </>
          )}
        </div>
        {(trigger.environments ?? []).map((_, j) => <span key={j}><FieldErrorsOf path={`${p}.trigger.environments[${j}]`} /></span>)}
        <FieldErrorsOf path={`${p}.trigger`} />
        <FieldErrorsOf path={`${p}.trigger.environments`} />
      </Fieldset>
      <Approval title="Pre-deployment approval" path={`${p}.preApproval`} value={env.preApproval ?? {}} onChange={(v) => up({ preApproval: v })} />
      <Gates title="Pre-deployment gates" path={`${p}.preGates`} value={env.preGates ?? {}} onChange={(v) => up({ preGates: v })} />
      <Fieldset legend="Deployment">
        {phases.length === 0 ? (
          <>
            <div className="row">
              <List path={`${p}.job.demands`} label="Demands" value={env.job?.demands} onChange={(v) => up({ job: { ...env.job, demands: v } })} />
              <Num path={`${p}.job.timeoutMinutes`} label="Job timeout (min)" value={env.job?.timeoutMinutes} onChange={(v) => up({ job: { ...env.job, timeoutMinutes: v } })} />
              <Check path={`${p}.job.skipArtifactDownload`} label="Skip artifact download" value={env.job?.skipArtifactDownload} onChange={(v) => up({ job: { ...env.job, skipArtifactDownload: v } })} />
              <List path={`${p}.job.secureFiles`} label="Secure files" hint="names or ids, comma-separated" value={env.job?.secureFiles} onChange={(v) => up({ job: { ...env.job, secureFiles: v } })} />
            </div>
            <TaskList label={`the job of ${env.name}`} tasks={env.job?.tasks ?? []} path={`${p}.job.tasks`} catalogue={catalogue} connections={connections} onChange={(t) => up({ job: { ...env.job, tasks: t } })} />
            <button type="button" onClick={() => up({ job: undefined, phases: [{ kind: 'AGENT', name: 'Agent phase', tasks: env.job?.tasks ?? [], demands: env.job?.demands, timeoutMinutes: env.job?.timeoutMinutes, skipArtifactDownload: env.job?.skipArtifactDownload }] })}>
              Deploy in phases
            </button>
          </>
        ) : (
          <>
            {phases.map((ph, k) => (
              <PhaseEditor key={k} phase={ph} path={`${p}.phases[${k}]`} catalogue={catalogue} connections={connections}
                onChange={(x) => up({ phases: phases.map((y, m) => (m === k ? x : y)) })}
                onRemove={() => up({ phases: phases.filter((_, m) => m !== k), job: phases.length === 1 ? { tasks: [] } : undefined })} />
            ))}
            <button type="button" onClick={() => up({ phases: [...phases, { kind: 'AGENT', name: `Phase ${phases.length + 1}`, tasks: [] }] })}>Add phase</button>
          </>
        )}
      </Fieldset>
      <Approval title="Post-deployment approval" path={`${p}.postApproval`} value={env.postApproval ?? {}} onChange={(v) => up({ postApproval: v })} />
      <Gates title="Post-deployment gates" path={`${p}.postGates`} value={env.postGates ?? {}} onChange={(v) => up({ postGates: v })} />
      <Fieldset legend="Queue">
        <div className="row">
          <Num path={`${p}.queue.maxParallel`} label="At most at once" hint="0: unlimited" value={env.queue?.maxParallel} onChange={(v) => up({ queue: { ...env.queue, maxParallel: v } })} />
          <Select path={`${p}.queue.mode`} label="When several wait" value={env.queue?.mode ?? 'ALL_IN_ORDER'} onChange={(v) => up({ queue: { ...env.queue, mode: v as 'ALL_IN_ORDER' } })}
            options={[['ALL_IN_ORDER', 'Deploy all in order'], ['LATEST_ONLY', 'Deploy the latest only']]} />
        </div>
      </Fieldset>
      <Variables path={`${p}.variables`} value={env.variables ?? []} onChange={(v) => up({ variables: v })} />
      <Groups path={`${p}.variableGroups`} all={groups} value={env.variableGroups ?? []} onChange={(v) => up({ variableGroups: v })} />
      <Fieldset legend="Permissions (empty: the definition's)">
        <Approvers path={`${p}.permissions.editEnvironment`} label="Edit this environment" value={env.permissions?.editEnvironment ?? []} onChange={(v) => up({ permissions: { ...env.permissions, editEnvironment: v } })} />
        <Approvers path={`${p}.permissions.manageDeployments`} label="Deploy, redeploy and cancel" value={env.permissions?.manageDeployments ?? []} onChange={(v) => up({ permissions: { ...env.permissions, manageDeployments: v } })} />
        <Approvers path={`${p}.permissions.manageApprovals`} label="Reassign approvals" value={env.permissions?.manageApprovals ?? []} onChange={(v) => up({ permissions: { ...env.permissions, manageApprovals: v } })} />
      </Fieldset>
      <Retention path={`${p}.retention`} value={env.retention} onChange={(v) => up({ retention: v })} />
      <FreezeWindows definitionId={definitionId} environment={env.name} />
    </div>
  );
}

function Approval({ title, path, value, onChange }: { title: string; path: string; value: ApprovalPolicyInput; onChange: (v: ApprovalPolicyInput) => void }) {
  const up = (patch: Partial<ApprovalPolicyInput>) => onChange({ ...value, ...patch });
  const approvers = value.approvers ?? [];
  return (
    <Fieldset legend={title}>
      <Approvers path={`${path}.approvers`} label="Approvers" value={approvers} onChange={(v) => up({ approvers: v })} empty="None: automatic." />
      {approvers.length > 0 && (
        <div className="row">
          <Select path={`${path}.mode`} label="Mode" value={value.mode ?? 'ANY_ONE'} onChange={(v) => up({ mode: v as ApprovalPolicyInput['mode'] })}
            options={[['ANY_ONE', 'Any one'], ['ALL', 'All, any order'], ['SEQUENTIAL', 'All, in order']]} />
          <Num path={`${path}.requiredCount`} label="Required approvals" hint="0: per mode" value={value.requiredCount} onChange={(v) => up({ requiredCount: v })} />
          <Num path={`${path}.timeoutMinutes`} label="Timeout (min)" hint="0: none" value={value.timeoutMinutes} onChange={(v) => up({ timeoutMinutes: v })} />
          <Check path={`${path}.requesterCannotApprove`} label="The requester may not approve" value={value.requesterCannotApprove} onChange={(v) => up({ requesterCannotApprove: v })} />
          <Check path={`${path}.skipIfApprovedInPreviousEnvironment`} label="Skip if approved in the previous environment" value={value.skipIfApprovedInPreviousEnvironment} onChange={(v) => up({ skipIfApprovedInPreviousEnvironment: v })} />
        </div>
      )}
    </Fieldset>
  );
}

function Gates({ title, path, value, onChange }: { title: string; path: string; value: GatePolicyInput; onChange: (v: GatePolicyInput) => void }) {
  const gates = value.gates ?? [];
  const up = (patch: Partial<GatePolicyInput>) => onChange({ ...value, ...patch });
  const setGate = (i: number, g: GateInput) => up({ gates: gates.map((x, j) => (j === i ? g : x)) });
  return (
    <Fieldset legend={title}>
      {gates.length === 0 && <p className="small">No gates.</p>}
      {gates.map((g, i) => {
        const gp = `${path}.gates[${i}]`;
        return (
          <div key={i} className="gate">
            <div className="row">
              <Text path={`${gp}.name`} label="Gate name" value={g.name} onChange={(v) => setGate(i, { ...g, name: v })} />
              <Select path={`${gp}.kind`} label="Checks" value={g.kind} onChange={(v) => setGate(i, v === 'HTTP' ? { name: g.name, kind: 'HTTP', http: { url: '' } } : { name: g.name, kind: 'WORK_ITEMS', workItems: { maxCount: 0 } })}
                options={[['HTTP', 'An HTTP endpoint'], ['WORK_ITEMS', 'Work items']]} />
              <button type="button" className="danger" onClick={() => up({ gates: gates.filter((_, j) => j !== i) })} aria-label={`Remove gate ${g.name}`}>Remove</button>
            </div>
            {g.kind === 'HTTP' ? (
              <HttpCall path={`${gp}.http`} value={g.http ?? { url: '' }} onChange={(h) => setGate(i, { ...g, http: h })} />
            ) : (
              <div className="row">
                <List path={`${gp}.workItems.types`} label="Types" value={g.workItems?.types} onChange={(v) => setGate(i, { ...g, workItems: { ...g.workItems, types: v } })} />
                <List path={`${gp}.workItems.states`} label="States" value={g.workItems?.states} onChange={(v) => setGate(i, { ...g, workItems: { ...g.workItems, states: v } })} />
                <List path={`${gp}.workItems.tags`} label="Tags" value={g.workItems?.tags} onChange={(v) => setGate(i, { ...g, workItems: { ...g.workItems, tags: v } })} />
                <Num path={`${gp}.workItems.maxCount`} label="At most" value={g.workItems?.maxCount} onChange={(v) => setGate(i, { ...g, workItems: { ...g.workItems, maxCount: v } })} />
              </div>
            )}
          </div>
        );
      })}
      <button type="button" onClick={() => up({ gates: [...gates, { name: `gate ${gates.length + 1}`, kind: 'HTTP', http: { url: '' } }] })} aria-label={`Add gate to ${title.toLowerCase()}`}>Add gate</button>
      {gates.length > 0 && (
        <div className="row">
          <Select path={`${path}.order`} label="Order" value={value.order ?? 'AFTER_APPROVALS'} onChange={(v) => up({ order: v as GatePolicyInput['order'] })} options={[['AFTER_APPROVALS', 'After approvals'], ['BEFORE_APPROVALS', 'Before approvals']]} />
          <Num path={`${path}.delayMinutes`} label="Delay (min)" value={value.delayMinutes} onChange={(v) => up({ delayMinutes: v })} />
          <Num path={`${path}.intervalMinutes`} label="Every (min)" value={value.intervalMinutes} onChange={(v) => up({ intervalMinutes: v })} />
          <Num path={`${path}.timeoutMinutes`} label="Timeout (min)" value={value.timeoutMinutes} onChange={(v) => up({ timeoutMinutes: v })} />
          <Num path={`${path}.minimumSuccessMinutes`} label="Passing for (min)" value={value.minimumSuccessMinutes} onChange={(v) => up({ minimumSuccessMinutes: v })} />
        </div>
      )}
    </Fieldset>
  );
}

function PhaseEditor({ phase, path, catalogue, connections, onChange, onRemove }: {
  phase: Phase; path: string; catalogue: Map<string, Template>; connections: Connection[]; onChange: (p: Phase) => void; onRemove: () => void;
}) {
  const up = (patch: Partial<Phase>) => onChange({ ...phase, ...patch });
  return (
    <Fieldset legend={`Phase ${phase.name ?? ''}`} className="phase">
      <div className="row">
        <Select path={`${path}.kind`} label="Runs" value={phase.kind} onChange={(v) => up({ kind: v as Phase['kind'] })}
          options={[['AGENT', 'On an agent'], ['DEPLOYMENT_GROUP', 'On each target of a deployment group'], ['SERVER', 'On the server (agentless)']]} />
        <Text path={`${path}.name`} label="Phase name" value={phase.name} onChange={(v) => up({ name: v })} />
        <Text path={`${path}.condition`} label="Condition" placeholder="SUCCEEDED" value={phase.condition} onChange={(v) => up({ condition: v })} />
        {phase.kind === 'AGENT' && <Text path={`${path}.pool`} label="Agent pool" placeholder="default" value={phase.pool} onChange={(v) => up({ pool: v })} />}
        {phase.kind === 'DEPLOYMENT_GROUP' && (
          <>
            <Text path={`${path}.deploymentGroup`} label="Deployment group" value={phase.deploymentGroup} onChange={(v) => up({ deploymentGroup: v })} />
            <List path={`${path}.tags`} label="Target tags" value={phase.tags} onChange={(v) => up({ tags: v })} />
            <Text path={`${path}.maxParallel`} label="Targets at once" placeholder="1" hint="a count or a percentage" value={phase.maxParallel} onChange={(v) => up({ maxParallel: v })} />
            <Text path={`${path}.failureThreshold`} label="Failed targets allowed" placeholder="0" hint="a count or a percentage" value={phase.failureThreshold} onChange={(v) => up({ failureThreshold: v })} />
            <Select path={`${path}.offlineTargets`} label="Offline targets" value={phase.offlineTargets ?? 'SKIP'} onChange={(v) => up({ offlineTargets: v as Phase['offlineTargets'] })}
              options={[['SKIP', 'Skip them'], ['WAIT', 'Wait for them']]} />
          </>
        )}
        <Num path={`${path}.timeoutMinutes`} label="Job timeout (min)" value={phase.timeoutMinutes} onChange={(v) => up({ timeoutMinutes: v })} />
        {phase.kind !== 'SERVER' && (
          <>
            <List path={`${path}.demands`} label="Demands" value={phase.demands} onChange={(v) => up({ demands: v })} />
            <List path={`${path}.secureFiles`} label="Secure files" hint="names or ids, comma-separated" value={phase.secureFiles} onChange={(v) => up({ secureFiles: v })} />
            <Check path={`${path}.skipArtifactDownload`} label="Skip artifact download" value={phase.skipArtifactDownload} onChange={(v) => up({ skipArtifactDownload: v })} />
          </>
        )}
        <button type="button" className="danger" onClick={onRemove} aria-label={`Remove phase ${phase.name ?? ''}`}>Remove phase</button>
      </div>
      <TaskList label={`phase ${phase.name ?? ''}`} tasks={phase.tasks ?? []} path={`${path}.tasks`} catalogue={catalogue} connections={connections} onChange={(t) => up({ tasks: t })} />
    </Fieldset>
  );
}

export function Variables({ path, value, onChange }: { path: string; value: VariableInput[]; onChange: (v: VariableInput[]) => void }) {
  const set = (i: number, v: VariableInput) => onChange(value.map((x, j) => (j === i ? v : x)));
  return (
    <Fieldset legend="Variables">
      {value.length === 0 && <p className="small">No variables.</p>}
      {value.map((v, i) => (
        <div className="row" key={i}>
          <Text path={`${path}[${i}].name`} label="Variable" value={v.name} onChange={(x) => set(i, { ...v, name: x })} />
          <Text path={`${path}[${i}].value`} label="Value" type={v.secret ? 'password' : 'text'} placeholder={v.secret ? 'unchanged' : ''} value={v.value} onChange={(x) => set(i, { ...v, value: x })} />
          <Check path={`${path}[${i}].secret`} label="Secret" value={v.secret} onChange={(x) => set(i, { ...v, secret: x })} />
          <Check path={`${path}[${i}].settableAtReleaseTime`} label="Settable at release time" value={v.settableAtReleaseTime} onChange={(x) => set(i, { ...v, settableAtReleaseTime: x })} />
          <button type="button" className="danger" onClick={() => onChange(value.filter((_, j) => j !== i))} aria-label={`Remove variable ${v.name}`}>Remove</button>
        </div>
      ))}
      <button type="button" onClick={() => onChange([...value, { name: '', value: '' }])}>Add variable</button>
    </Fieldset>
  );
}

export function Groups({ path, all, value, onChange }: { path: string; all: string[]; value: string[]; onChange: (v: string[]) => void }) {
  const names = Array.from(new Set([...all, ...value]));
  return (
    <Fieldset legend="Linked variable groups">
      {names.length === 0 && <p className="small">The library has no variable groups.</p>}
      <FieldErrorsOf path={path} />
      {names.map((n, i) => {
        const id = `${path.replace(/[^A-Za-z0-9]+/g, '-')}-${i}`;
        return (
          <span className="check" key={n}>
            <input id={id} type="checkbox" checked={value.includes(n)} onChange={(e) => onChange(e.target.checked ? [...value, n] : value.filter((x) => x !== n))} />
            <label htmlFor={id}>{n}</label>
          </span>
        );
      })}
    </Fieldset>
  );
}
