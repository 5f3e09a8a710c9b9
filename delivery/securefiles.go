package delivery

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/ent/securefile"
)

// SecureFileInput describes an upload. Replace lets an administrator of an
// existing file of that name replace its content (a rotation); without it an
// existing name is a CONFLICT.
type SecureFileInput struct {
	Name, Description string
	Permissions       spec.LibraryPermissions
	Replace           bool
}

// ErrSecureFileTooLarge is what UploadSecureFile returns for content over
// MaxSecureFileBytes (INVALID_INPUT).
var ErrSecureFileTooLarge = Invalid("content", "a secure file may hold at most %d bytes", MaxSecureFileBytes)

// UploadSecureFile reads content (at most MaxSecureFileBytes; the reader is
// read once, never further than one byte past the cap), seals it and stores
// it as secure file in.Name. Any EDITOR may upload a new file; replacing one
// needs administer on it. The content is never returned through the API.
func (e *Engine) UploadSecureFile(ctx context.Context, actor Actor, in SecureFileInput, content io.Reader) (*ent.SecureFile, error) {
	if err := actor.Require(RoleEditor, "uploading a secure file"); err != nil {
		return nil, err
	}
	in.Name, in.Description = strings.TrimSpace(in.Name), strings.TrimSpace(in.Description)
	in.Permissions = normalizeLibraryPermissions(in.Permissions)
	p := &problems{}
	validLibraryName(p, "name", in.Name)
	if utf8.RuneCountInString(in.Description) > maxLibraryDescribe {
		p.add("description", "is longer than %d characters", maxLibraryDescribe)
	}
	if err := p.err(); err != nil {
		return nil, fmt.Errorf("uploading secure file: %w", err)
	}
	if e.secrets == nil {
		return nil, errors.New("uploading secure file: no secret key is configured on the server; secure files are sealed at rest")
	}
	data, err := io.ReadAll(io.LimitReader(content, MaxSecureFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("uploading secure file %q: reading content: %w", in.Name, err)
	}
	if len(data) > MaxSecureFileBytes {
		return nil, ErrSecureFileTooLarge
	}
	if len(data) == 0 {
		return nil, Invalid("content", "the file is empty")
	}
	size := int64(len(data))
	sum := sha256.Sum256(data)
	digest := hex.EncodeToString(sum[:])
	sealed := e.secrets.Seal(data)
	clear(data)
	var f *ent.SecureFile
	err = e.inTx(ctx, func(t *txn) error {
		p := &problems{}
		if err := t.validateLibraryPermissions(p, in.Permissions); err != nil {
			return err
		}
		if err := p.err(); err != nil {
			return err
		}
		cur, err := t.SecureFile.Query().Where(securefile.Name(in.Name)).
			Select(securefile.FieldID, securefile.FieldName, securefile.FieldPermissions, securefile.FieldSha256, securefile.FieldSize).Only(t.ctx)
		switch {
		case ent.IsNotFound(err):
			f, err = t.SecureFile.Create().SetName(in.Name).SetDescription(in.Description).SetSize(size).
				SetSha256(digest).SetContent(sealed).SetPermissions(in.Permissions).SetCreatedBy(actor.Username).
				SetCreatedAt(t.now).SetUpdatedAt(t.now).Save(t.ctx)
			if err != nil {
				return fmt.Errorf("storing secure file: %w", err)
			}
			return t.audit(actor, "secureFile.create", auditTargetSecureFile, f.ID, nil, fileAudit(f))
		case err != nil:
			return fmt.Errorf("reading secure file %q: %w", in.Name, err)
		case !in.Replace:
			return Conflict("a secure file named %q already exists; upload with replace to rotate it", in.Name)
		}
		pr, err := principalOf(t.ctx, t.Client(), actor)
		if err != nil {
			return err
		}
		if err := t.checkLibrary(pr, fileItem(cur), LibAdminister, fmt.Sprintf("replacing secure file %s", cur.Name)); err != nil {
			return err
		}
		upd := t.SecureFile.UpdateOneID(cur.ID).SetSize(size).SetSha256(digest).
			SetContent(sealed).SetUpdatedAt(t.now)
		if in.Description != "" {
			upd.SetDescription(in.Description)
		}
		if f, err = upd.Save(t.ctx); err != nil {
			return fmt.Errorf("storing secure file: %w", err)
		}
		return t.audit(actor, "secureFile.replace", auditTargetSecureFile, f.ID, fileAudit(cur), fileAudit(f))
	})
	if err != nil {
		return nil, fmt.Errorf("uploading secure file %q: %w", in.Name, err)
	}
	f.Content = nil
	return f.Unwrap(), nil
}

func fileAudit(f *ent.SecureFile) map[string]any {
	return map[string]any{"name": f.Name, "description": f.Description, "size": f.Size, "sha256": f.Sha256, "permissions": f.Permissions}
}

// UpdateSecureFile changes the description and permissions of file id
// (administer).
func (e *Engine) UpdateSecureFile(ctx context.Context, actor Actor, id int, description *string, perms *spec.LibraryPermissions) (*ent.SecureFile, error) {
	if err := actor.Require(RoleEditor, "changing a secure file"); err != nil {
		return nil, err
	}
	var f *ent.SecureFile
	err := e.inTx(ctx, func(t *txn) error {
		cur, err := t.secureFileMeta(id)
		if err != nil {
			return err
		}
		pr, err := principalOf(t.ctx, t.Client(), actor)
		if err != nil {
			return err
		}
		if err := t.checkLibrary(pr, fileItem(cur), LibAdminister, fmt.Sprintf("changing secure file %s", cur.Name)); err != nil {
			return err
		}
		upd := t.SecureFile.UpdateOneID(id).SetUpdatedAt(t.now)
		if description != nil {
			d := strings.TrimSpace(*description)
			if utf8.RuneCountInString(d) > maxLibraryDescribe {
				return Invalid("description", "is longer than %d characters", maxLibraryDescribe)
			}
			upd.SetDescription(d)
		}
		if perms != nil {
			np := normalizeLibraryPermissions(*perms)
			p := &problems{}
			if err := t.validateLibraryPermissions(p, np); err != nil {
				return err
			}
			if err := p.err(); err != nil {
				return err
			}
			upd.SetPermissions(np)
		}
		if _, err := upd.Save(t.ctx); err != nil {
			return fmt.Errorf("storing secure file: %w", err)
		}
		if f, err = t.secureFileMeta(id); err != nil {
			return err
		}
		return t.audit(actor, "secureFile.update", auditTargetSecureFile, id, fileAudit(cur), fileAudit(f))
	})
	if err != nil {
		return nil, fmt.Errorf("changing secure file %d: %w", id, err)
	}
	return f.Unwrap(), nil
}

// DeleteSecureFile removes file id (administer); refused (CONFLICT, naming
// them) while definitions' jobs name it.
func (e *Engine) DeleteSecureFile(ctx context.Context, actor Actor, id int) error {
	if err := actor.Require(RoleEditor, "deleting a secure file"); err != nil {
		return err
	}
	err := e.inTx(ctx, func(t *txn) error {
		cur, err := t.secureFileMeta(id)
		if err != nil {
			return err
		}
		pr, err := principalOf(t.ctx, t.Client(), actor)
		if err != nil {
			return err
		}
		if err := t.checkLibrary(pr, fileItem(cur), LibAdminister, fmt.Sprintf("deleting secure file %s", cur.Name)); err != nil {
			return err
		}
		users, err := t.libraryUsers("", cur.Name)
		if err != nil {
			return err
		}
		if len(users) > 0 {
			return Conflict("secure file %q is used by %s; remove it from their jobs first", cur.Name, strings.Join(users, ", "))
		}
		if err := t.SecureFile.DeleteOneID(id).Exec(t.ctx); err != nil {
			return fmt.Errorf("deleting secure file: %w", err)
		}
		return t.audit(actor, "secureFile.delete", auditTargetSecureFile, id, fileAudit(cur), nil)
	})
	if err != nil {
		return fmt.Errorf("deleting secure file %d: %w", id, err)
	}
	return nil
}

// secureFileMeta reads file id without its content.
func (t *txn) secureFileMeta(id int) (*ent.SecureFile, error) {
	f, err := t.SecureFile.Query().Where(securefile.ID(id)).Select(secureFileColumns...).Only(t.ctx)
	if ent.IsNotFound(err) {
		return nil, NotFound("secure file", id)
	}
	if err != nil {
		return nil, fmt.Errorf("reading secure file %d: %w", id, err)
	}
	return f, nil
}

// secureFileColumns are every column but the content.
var secureFileColumns = []string{
	securefile.FieldID, securefile.FieldName, securefile.FieldDescription, securefile.FieldSize, securefile.FieldSha256,
	securefile.FieldPermissions, securefile.FieldCreatedBy, securefile.FieldCreatedAt, securefile.FieldUpdatedAt,
}

// SecureFiles lists the secure files, by name, without their contents (VIEWER).
func (e *Engine) SecureFiles(ctx context.Context, actor Actor) ([]*ent.SecureFile, error) {
	if err := actor.Require(RoleViewer, "reading secure files"); err != nil {
		return nil, err
	}
	fs, err := e.client.SecureFile.Query().Select(secureFileColumns...).Order(ent.Asc(securefile.FieldName)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading secure files: %w", err)
	}
	return fs, nil
}

// SecureFileContent is one secure file of a job, decrypted: the agent writes
// it to the job's temporary directory and exports its path as PathVariable.
type SecureFileContent struct {
	Name, PathVariable string
	Content            []byte
}

// SecureFilePathVariable names the variable holding the path of secure file
// name on the agent: SECUREFILE_<NAME>_PATH (envName of the name).
func SecureFilePathVariable(name string) string {
	return "SECUREFILE_" + envName(name) + "_PATH"
}

// secureFilesOf decrypts the files a job names, in order. A file deleted
// since the definition named it (which delete refuses) or that cannot be
// opened makes the job unusable.
func (e *Engine) secureFilesOf(ctx context.Context, names []string) ([]SecureFileContent, error) {
	out := make([]SecureFileContent, 0, len(names))
	for _, name := range names {
		f, err := e.client.SecureFile.Query().Where(securefile.Name(name)).Only(ctx)
		if ent.IsNotFound(err) {
			return nil, &Error{Code: CodeInvalidInput, Message: fmt.Sprintf("secure file %q of the job no longer exists", name)}
		}
		if err != nil {
			return nil, fmt.Errorf("reading secure file %q: %w", name, err)
		}
		if e.secrets == nil {
			return nil, &Error{Code: CodeInvalidInput, Message: fmt.Sprintf("secure file %q cannot be decrypted: the server has no secret key", name)}
		}
		pt, err := e.secrets.Open(f.Content)
		if err != nil {
			return nil, &Error{Code: CodeInvalidInput, Message: fmt.Sprintf("secure file %q cannot be decrypted (was the secret key changed?): %v", name, err)}
		}
		out = append(out, SecureFileContent{Name: f.Name, PathVariable: SecureFilePathVariable(f.Name), Content: pt})
	}
	return out, nil
}
