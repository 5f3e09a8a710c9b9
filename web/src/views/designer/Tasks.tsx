// The tasks of a job or phase: inline scripts, manual interventions, REST API calls (a server
// phase's INVOKE_REST_API), and tasks of the task library whose inputs are a form generated
// from the template's typed inputs.
import { useState } from 'react';
import type { DesignerCatalogueQuery } from '../../gql/graphql';
import { Check, Fieldset, FieldProblems, Num, Select, Text } from './fields';
import { fieldId, type Task } from './model';
import { Approvers, EnvMap, HttpCall } from './parts';

export type Template = DesignerCatalogueQuery['taskTemplates'][number];
export type Connection = { name: string; kind: string };

// newest picks, for each name@major, the newest version: what a task that uses it gets now.
export function newest(templates: Template[]): Map<string, Template> {
  const out = new Map<string, Template>();
  const ver = (t: Template) => t.version.split('.').map(Number);
  for (const t of templates) {
    const key = `${t.name}@${t.major}`;
    const cur = out.get(key);
    if (!cur || ver(t)[1] > ver(cur)[1]) out.set(key, t);
  }
  return out;
}

export function TaskList({ tasks, path, catalogue, connections, onChange, label }: {
  tasks: Task[]; path: string; catalogue: Map<string, Template>; connections: Connection[]; onChange: (t: Task[]) => void; label: string;
}) {
  const [adding, setAdding] = useState('');
  const set = (i: number, t: Task) => onChange(tasks.map((x, j) => (j === i ? t : x)));
  const move = (i: number, d: number) => {
    const j = i + d;
    if (j < 0 || j >= tasks.length) return;
    const next = [...tasks];
    [next[i], next[j]] = [next[j], next[i]];
    onChange(next);
  };
  const add = () => {
    if (!adding) return;
    let t: Task;
    if (adding === ':script') t = { name: 'script', script: '' };
    else if (adding === ':manual') t = { name: 'manual intervention', kind: 'MANUAL_INTERVENTION', instructions: '' };
    else if (adding === ':rest') t = { name: 'invoke REST API', kind: 'INVOKE_REST_API', http: { method: 'GET', url: '' } };
    else {
      const tpl = catalogue.get(adding)!;
      const inputs: Record<string, unknown> = {};
      for (const inp of tpl.inputs) if (inp.default) inputs[inp.name] = inp.default;
      t = { name: tpl.name, uses: adding, inputs };
    }
    onChange([...tasks, t]);
    setAdding('');
  };
  const byCategory = new Map<string, string[]>();
  for (const [key, t] of catalogue) byCategory.set(t.category || 'Other', [...(byCategory.get(t.category || 'Other') ?? []), key]);
  const addId = fieldId(path + '.add');
  return (
    <div className="tasks">
      {tasks.length === 0 && <p className="muted small">No tasks.</p>}
      <ol className="plain task-list">
        {tasks.map((t, i) => (
          <li key={i} data-task={t.name}>
            <TaskEditor task={t} path={`${path}[${i}]`} catalogue={catalogue} connections={connections} onChange={(x) => set(i, x)} />
            <div className="buttons">
              <button type="button" onClick={() => move(i, -1)} disabled={i === 0} aria-label={`Move task ${t.name} up`}>Up</button>
              <button type="button" onClick={() => move(i, 1)} disabled={i === tasks.length - 1} aria-label={`Move task ${t.name} down`}>Down</button>
              <button type="button" className="danger" onClick={() => onChange(tasks.filter((_, j) => j !== i))} aria-label={`Remove task ${t.name}`}>Remove</button>
            </div>
          </li>
        ))}
      </ol>
      <div className="inline add-task">
        <label htmlFor={addId}>Add a task to {label}</label>
        <select id={addId} value={adding} onChange={(e) => setAdding(e.target.value)}>
          <option value="">Choose…</option>
          <option value=":script">Inline script</option>
          <option value=":manual">Manual intervention</option>
          <option value=":rest">Invoke REST API (server phase)</option>
          {[...byCategory].map(([cat, keys]) => (
            <optgroup key={cat} label={cat}>
              {keys.map((k) => <option key={k} value={k}>{k} — {catalogue.get(k)!.description.slice(0, 60)}</option>)}
            </optgroup>
          ))}
        </select>
        <button type="button" onClick={add} disabled={!adding}>Add task</button>
      </div>
    </div>
  );
}

function TaskEditor({ task, path, catalogue, connections, onChange }: {
  task: Task; path: string; catalogue: Map<string, Template>; connections: Connection[]; onChange: (t: Task) => void;
}) {
  const up = (patch: Partial<Task>) => onChange({ ...task, ...patch });
  const kind = task.kind ?? 'SCRIPT';
  const tpl = task.uses ? catalogue.get(task.uses) : undefined;
  return (
    <Fieldset legend={<>{task.name || '(unnamed task)'} <span className="small">{task.uses ? task.uses : kind === 'SCRIPT' ? 'script' : kind.toLowerCase().replace(/_/g, ' ')}</span></>}>
      <div className="row">
        <Text path={`${path}.name`} label="Task name" value={task.name} onChange={(v) => up({ name: v })} required />
        <Check path={`${path}.disabled`} label="Disabled" value={task.disabled} onChange={(v) => up({ disabled: v })} />
        {kind !== 'MANUAL_INTERVENTION' && <Check path={`${path}.continueOnError`} label="Continue on error" value={task.continueOnError} onChange={(v) => up({ continueOnError: v })} />}
        <Num path={`${path}.timeoutMinutes`} label="Timeout (min)" value={task.timeoutMinutes} onChange={(v) => up({ timeoutMinutes: v })} />
        {kind !== 'MANUAL_INTERVENTION' && <Text path={`${path}.condition`} label="Condition" placeholder="SUCCEEDED" value={task.condition} onChange={(v) => up({ condition: v })} />}
      </div>
      {kind === 'SCRIPT' && !task.uses && (
        <div className="row">
          <Select path={`${path}.shell`} label="Shell" value={task.shell ?? ''} onChange={(v) => up({ shell: v || undefined })} options={[['', 'default (bash)'], 'bash', 'sh', 'pwsh', 'cmd']} />
          <Text path={`${path}.script`} label="Script" multiline value={task.script} onChange={(v) => up({ script: v })} className="wide" />
          <Text path={`${path}.workingDirectory`} label="Working directory" value={task.workingDirectory} onChange={(v) => up({ workingDirectory: v })} />
        </div>
      )}
      {kind === 'MANUAL_INTERVENTION' && (
        <div className="row">
          <Text path={`${path}.instructions`} label="Instructions" multiline value={task.instructions} onChange={(v) => up({ instructions: v })} className="wide" />
          <Select path={`${path}.onTimeout`} label="On timeout" value={task.onTimeout ?? 'REJECT'} onChange={(v) => up({ onTimeout: v as Task['onTimeout'] })} options={['REJECT', 'RESUME']} />
        </div>
      )}
      {kind === 'MANUAL_INTERVENTION' && (
        <Approvers path={`${path}.approvers`} label={`Who may resume or reject ${task.name || 'the task'}`} value={task.approvers ?? []}
          onChange={(v) => up({ approvers: v })} empty="Empty: any EDITOR." />
      )}
      {kind === 'INVOKE_REST_API' && (
        <HttpCall path={`${path}.http`} value={task.http ?? { url: '' }} onChange={(h) => up({ http: h })} />
      )}
      {kind === 'SCRIPT' && <EnvMap path={`${path}.env`} value={task.env as Record<string, string> | undefined} onChange={(v) => up({ env: v })} />}
      {task.uses && !tpl && <p className="error small">The task library has no {task.uses}.</p>}
      {tpl && <TemplateInputs tpl={tpl} path={`${path}.inputs`} values={(task.inputs ?? {}) as Record<string, string>} connections={connections}
        onChange={(inputs) => up({ inputs })} />}
    </Fieldset>
  );
}

// TemplateInputs is the form of a template's typed inputs: a control per type, required ones
// marked, defaults as placeholders, help under each.
function TemplateInputs({ tpl, path, values, connections, onChange }: {
  tpl: Template; path: string; values: Record<string, string>; connections: Connection[]; onChange: (v: Record<string, string>) => void;
}) {
  const set = (name: string, v: string) => {
    const next = { ...values };
    if (v === '') delete next[name];
    else next[name] = v;
    onChange(next);
  };
  return (
    <div className="row template-inputs" data-template={`${tpl.name}@${tpl.major}`}>
      <FieldProblems path={path} />
      {tpl.inputs.map((inp) => {
        const p = `${path}.${inp.name}`;
        const label = inp.name;
        const v = values[inp.name] ?? '';
        switch (inp.type) {
          case 'BOOLEAN':
            return <Check key={inp.name} path={p} label={label} value={(v || inp.default) === 'true'} onChange={(b) => set(inp.name, String(b))} />;
          case 'PICKLIST':
            return <Select key={inp.name} path={p} label={label} hint={inp.help} value={v || inp.default} onChange={(x) => set(inp.name, x)} options={inp.options} />;
          case 'SERVICE_CONNECTION':
            return <Select key={inp.name} path={p} label={label} hint={inp.help} value={v} onChange={(x) => set(inp.name, x)}
              options={[['', '—'], ...connections.filter((c) => !inp.connectionKind || c.kind === inp.connectionKind).map((c) => c.name)]} />;
          case 'MULTILINE':
            return <Text key={inp.name} path={p} label={label} hint={inp.help} multiline required={inp.required} placeholder={inp.default} value={v} onChange={(x) => set(inp.name, x)} className="wide" />;
          case 'SECRET':
            return <Text key={inp.name} path={p} label={label} hint={inp.help} type="password" required={inp.required} value={v} onChange={(x) => set(inp.name, x)} />;
          default:
            return <Text key={inp.name} path={p} label={label} hint={inp.help} required={inp.required} placeholder={inp.default} value={v} onChange={(x) => set(inp.name, x)} />;
        }
      })}
    </div>
  );
}
