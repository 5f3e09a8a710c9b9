// Secure files: files a job receives in its temporary directory (certificates, keystores,
// keys). Uploaded here, never downloadable: the page shows their size and checksum only.
import { useState, type FormEvent } from 'react';
import { APIError, mutate } from '../../api';
import { csrfToken } from '../../csrf';
import { useLive } from '../../hooks';
import { useMayCall } from '../../may';
import { Ago, ErrorNote, Loading, Page } from '../../ui';
import { graphql } from '../../gql';
import type { SecureFilesPageQuery } from '../../gql/graphql';
import { ConfirmButton, Field, OtherError, approversText, invalid, parseApprovers } from './common';

const filesQuery = graphql(`query SecureFilesPage {
  secureFiles {
    id name description size sha256 createdBy updatedAt usedBy
    permissions { use { kind name } administer { kind name } read { kind name } }
    viewerCan { use administer read }
  }
}`);
const updateMutation = graphql(`mutation UpdateSecureFileForm($id: ID!, $description: String, $permissions: LibraryPermissionsInput) {
  updateSecureFile(id: $id, description: $description, permissions: $permissions) { id name }
}`);
const deleteMutation = graphql(`mutation DeleteSecureFileForm($id: ID!) { deleteSecureFile(id: $id) }`);

type File = SecureFilesPageQuery['secureFiles'][number];

function size(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

// upload sends the file to POST /api/securefiles (the API takes no file contents).
async function upload(file: Blob, name: string, description: string, replace: boolean): Promise<{ id: string; name: string }> {
  const q = new URLSearchParams({ name });
  if (description) q.set('description', description);
  if (replace) q.set('replace', 'true');
  const res = await fetch(`/api/securefiles?${q}`, {
    method: 'POST', credentials: 'same-origin', body: file,
    headers: { 'X-CSRF-Token': csrfToken(), 'Content-Type': 'application/octet-stream' },
  });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) {
    const code = body?.error?.code ?? 'ERROR';
    const msg: string = body?.error?.message ?? `upload failed (${res.status})`;
    // The error names the input at fault (name, description, content: the file).
    const named: string | undefined = body?.error?.field;
    const field = named === 'content' ? 'file' : named;
    throw new APIError(msg, code, res.status, field);
  }
  return body;
}

// SecureFiles lists the files (every VIEWER sees that they exist).
export function SecureFiles() {
  const q = useLive(filesQuery, {}, () => false);
  const may = useMayCall('Mutation.updateSecureFile', 'Mutation.deleteSecureFile', 'Mutation.createVariableGroup');
  const [editing, setEditing] = useState<string>();
  const [errors, setErrors] = useState<Record<string, APIError>>({});
  const [note, setNote] = useState<string>();
  const files = q.data?.secureFiles ?? [];
  const edited = files.find((f) => f.id === editing);
  const remove = async (f: File) => {
    setErrors(({ [f.id]: _, ...rest }) => rest);
    try {
      await mutate(deleteMutation, { id: f.id });
      setNote(`Secure file ${f.name} deleted.`);
      q.reload();
    } catch (e) {
      setErrors((s) => ({ ...s, [f.id]: e as APIError }));
    }
  };
  // Uploading needs an EDITOR, the same role as changing a file (the upload is not a GraphQL field).
  const mayUpload = may?.has('Mutation.updateSecureFile');
  return (
    <Page title="Secure files">
      <p className="small">Files a job receives before its first task (exported as SECUREFILE_&lt;NAME&gt;_PATH) and deletes when it ends. Their contents are sealed at rest and never downloadable.</p>
      {mayUpload && <UploadForm onDone={(m) => { setNote(m); q.reload(); }} />}
      {edited && <FileForm key={edited.id} existing={edited} onCancel={() => setEditing(undefined)} onDone={(m) => { setEditing(undefined); setNote(m); q.reload(); }} />}
      {note && <p role="status" data-note>{note}</p>}
      <ErrorNote error={q.error} />
      {q.loading && !q.data ? <Loading what="secure files" /> : files.length === 0 ? <p>No secure files.</p> : (
        <div className="scroll-x" role="region" aria-label="Secure files" tabIndex={0}>
          <table data-testid="secure-files">
            <thead><tr><th scope="col">Name</th><th scope="col">Size</th><th scope="col">SHA-256</th><th scope="col">Used by</th><th scope="col">Uploaded</th><th scope="col">Actions</th></tr></thead>
            <tbody>
              {files.map((f) => {
                const users = f.usedBy;
                return (
                  <tr key={f.id} data-file={f.name}>
                    <th scope="row">{f.name}{f.description && <div className="small">{f.description}</div>}</th>
                    <td>{size(f.size)}</td>
                    <td><code title={f.sha256}>{f.sha256.slice(0, 12)}…</code></td>
                    <td data-used-by>{users.length ? users.join('; ') : '—'}</td>
                    <td>{f.createdBy} <Ago time={f.updatedAt} /></td>
                    <td>
                      {f.viewerCan.administer && (
                        <div className="row-actions">
                          <button type="button" aria-label={`Edit ${f.name}`} onClick={() => setEditing(f.id)}>Edit</button>
                          {may?.has('Mutation.deleteSecureFile') && <ConfirmButton label="Delete" what={f.name} question={<>Delete secure file <strong>{f.name}</strong>?</>} onConfirm={() => remove(f)} />}
                        </div>
                      )}
                      <ErrorNote error={errors[f.id]} />
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </Page>
  );
}

function UploadForm({ onDone }: { onDone: (m: string) => void }) {
  const [file, setFile] = useState<globalThis.File | null>(null);
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [replace, setReplace] = useState(false);
  const [error, setError] = useState<APIError>();
  const [busy, setBusy] = useState(false);
  const [inputKey, setInputKey] = useState(0);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!file) {
      setError(new APIError('choose a file', 'INVALID_INPUT', 0, 'file'));
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      const f = await upload(file, name || file.name, description, replace);
      onDone(`Secure file ${f.name} uploaded.`);
      setFile(null);
      setName('');
      setDescription('');
      setReplace(false);
      setInputKey((k) => k + 1);
    } catch (err) {
      setError(err as APIError);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="edit" onSubmit={submit} aria-labelledby="upload-title" data-form="secure-file">
      <h2 id="upload-title">Upload a secure file</h2>
      <Field id="sf-file" label="File" field="file" error={error}>
        <input key={inputKey} {...invalid('sf-file', error, 'file')} type="file" onChange={(e) => { const f = e.target.files?.[0] ?? null; setFile(f); if (f && !name) setName(f.name); }} />
      </Field>
      <Field id="sf-name" label="Name" field="name" error={error} hint="Jobs name the file by it; empty: the file’s name">
        <input {...invalid('sf-name', error, 'name')} value={name} onChange={(e) => setName(e.target.value)} />
      </Field>
      <Field id="sf-description" label="Description" field="description" error={error}>
        <input {...invalid('sf-description', error, 'description')} value={description} onChange={(e) => setDescription(e.target.value)} />
      </Field>
      <span className="check"><input type="checkbox" id="sf-replace" checked={replace} onChange={(e) => setReplace(e.target.checked)} /><label htmlFor="sf-replace">Replace the file of that name</label></span>
      <OtherError error={error} fields={['file', 'name', 'description']} />
      <div className="row-actions"><button type="submit" className="primary" disabled={busy}>{busy ? 'Uploading…' : 'Upload'}</button></div>
    </form>
  );
}

function FileForm({ existing, onDone, onCancel }: { existing: File; onDone: (m: string) => void; onCancel: () => void }) {
  const [description, setDescription] = useState(existing.description);
  const [use, setUse] = useState(approversText(existing.permissions.use));
  const [administer, setAdminister] = useState(approversText(existing.permissions.administer));
  const [read, setRead] = useState(approversText(existing.permissions.read));
  const [error, setError] = useState<APIError>();
  const p = `sf-${existing.id}`;
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(undefined);
    try {
      await mutate(updateMutation, { id: existing.id, description, permissions: { use: parseApprovers(use), administer: parseApprovers(administer), read: parseApprovers(read) } });
      onDone(`Secure file ${existing.name} saved.`);
    } catch (err) {
      setError(err as APIError);
    }
  };
  return (
    <form className="edit" onSubmit={submit} aria-labelledby={`${p}-title`} data-form="secure-file-edit">
      <h2 id={`${p}-title`}>Edit {existing.name}</h2>
      <p className="small">To change the content, upload the file again with “Replace”.</p>
      <Field id={`${p}-description`} label="Description" field="description" error={error}>
        <input {...invalid(`${p}-description`, error, 'description')} autoFocus value={description} onChange={(e) => setDescription(e.target.value)} />
      </Field>
      <Field id={`${p}-use`} label="May use (name it in a job)" field="permissions.use" error={error} hint="Users and groups, e.g. ann, group:ops; empty: every EDITOR">
        <input {...invalid(`${p}-use`, error, 'permissions.use')} value={use} onChange={(e) => setUse(e.target.value)} />
      </Field>
      <Field id={`${p}-administer`} label="May administer" field="permissions.administer" error={error} hint="Empty: every EDITOR">
        <input {...invalid(`${p}-administer`, error, 'permissions.administer')} value={administer} onChange={(e) => setAdminister(e.target.value)} />
      </Field>
      <Field id={`${p}-read`} label="May read" field="permissions.read" error={error} hint="Empty: everyone">
        <input {...invalid(`${p}-read`, error, 'permissions.read')} value={read} onChange={(e) => setRead(e.target.value)} />
      </Field>
      <OtherError error={error} fields={['description', 'permissions']} />
      <div className="row-actions">
        <button type="submit" className="primary">Save</button>
        <button type="button" onClick={onCancel}>Cancel</button>
      </div>
    </form>
  );
}
