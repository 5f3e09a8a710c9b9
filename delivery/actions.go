package delivery

import (
	"context"
	"fmt"
	"unicode/utf8"

	"github.com/cairnhq/cairn/ent"
)

// This file holds the one preamble of a person's action on a deployment (cancel, ignore gates)
// and the pieces every other action shares with it (deploy, abandon, approve, reject, reassign,
// resume or reject an intervention): the comment's bound and the reason recorded with the action.

// checkActionComment refuses a comment longer than maxActionComment characters.
func checkActionComment(field, comment string) error {
	if utf8.RuneCountInString(comment) > maxActionComment {
		return Invalid(field, "is longer than %d characters", maxActionComment)
	}
	return nil
}

// actionReason is the reason an action records: "<done> by <actor>", then ": <comment>" when
// the person gave one.
func actionReason(done string, actor Actor, comment string) string {
	reason := done + " by " + actor.String()
	if comment != "" {
		reason += ": " + comment
	}
	return reason
}

// deploymentAction runs a person's action on one deployment: the role EDITOR, the comment's
// bound, then in one transaction the deployment read (locked on PostgreSQL) and the
// manageDeployments permission on its environment (a deployment the actor may not read is
// NOT_FOUND; an ADMIN's override is audited), then act. doing names the action in errors
// ("canceling", "ignoring the gates of"). It returns the deployment as act left it.
func (e *Engine) deploymentAction(ctx context.Context, actor Actor, deploymentID int, comment, doing string,
	act func(t *txn, dc *deployCtx) error) (*ent.Deployment, error) {
	if err := actor.Require(RoleEditor, doing+" a deployment"); err != nil {
		return nil, err
	}
	if err := checkActionComment("comment", comment); err != nil {
		return nil, err
	}
	var d *ent.Deployment
	err := e.inTx(ctx, func(t *txn) error {
		dc, err := t.loadDeployment(deploymentID)
		if err != nil {
			return err
		}
		if err := t.authorize(actor, dc.d.DefinitionID, dc.re.Name, PermManageDeployments,
			fmt.Sprintf("%s the deployment of %s to %s", doing, dc.rel.Name, dc.re.Name), NotFound("deployment", deploymentID)); err != nil {
			return err
		}
		if err := act(t, dc); err != nil {
			return err
		}
		d = dc.d
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s deployment %d: %w", doing, deploymentID, err)
	}
	return d.Unwrap(), nil
}
