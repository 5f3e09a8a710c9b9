package graph

import (
	"context"
	"errors"
	"log/slog"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/cairnhq/cairn/delivery"
)

// presentError is the one place that turns errors into GraphQL errors: every
// error gets extensions.code; domain errors keep their message (written for
// people), anything else is logged with detail and shown as "internal error".
func presentError(log *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		var gqlErr *gqlerror.Error
		if errors.As(err, &gqlErr) && gqlErr.Err == nil {
			// Parse and validation errors from gqlgen itself.
			if gqlErr.Extensions == nil {
				gqlErr.Extensions = map[string]any{}
			}
			// Parse/validation failures are the client's: INVALID_INPUT, keeping
			// gqlgen's finer code (GRAPHQL_VALIDATION_FAILED, …) as "reason".
			if c, ok := gqlErr.Extensions["code"]; ok && c != string(delivery.CodeInvalidInput) {
				gqlErr.Extensions["reason"] = c
			}
			gqlErr.Extensions["code"] = string(delivery.CodeInvalidInput)
			return gqlErr
		}
		pres := graphql.DefaultErrorPresenter(ctx, err)
		code := delivery.CodeOf(err)
		switch {
		case code == delivery.CodeUnavailable:
			// The storage failed: nobody's input is at fault, and the request may be retried.
			log.WarnContext(ctx, "storage unavailable", "path", pres.Path.String(), "err", err)
			pres.Message = delivery.Unavailable(err).Message
			markUnavailable(ctx)
		case code == delivery.CodeInternal && isInputCoercion(err):
			code = delivery.CodeInvalidInput
		case code == delivery.CodeInternal:
			log.ErrorContext(ctx, "internal error", "path", pres.Path.String(), "err", err)
			pres.Message = "internal error"
		default:
			pres.Message = domainMessage(err)
		}
		if pres.Extensions == nil {
			pres.Extensions = map[string]any{}
		}
		pres.Extensions["code"] = string(code)
		var de *delivery.Error
		if errors.As(err, &de) && de.Field != "" {
			pres.Extensions["field"] = de.Field
		}
		// A definition's validation names every problem (delivery.ValidationError): each with
		// its field, so that a client shows each beside the input it names.
		var ve *delivery.ValidationError
		if errors.As(err, &ve) && len(ve.Problems) > 0 {
			list := make([]map[string]any, len(ve.Problems))
			for i, p := range ve.Problems {
				list[i] = map[string]any{"field": p.Field, "message": p.Message}
			}
			pres.Extensions["problems"] = list
		}
		return pres
	}
}

// domainMessage is the message of the outermost domain error (without the
// wrapping gerunds, which are for logs).
func domainMessage(err error) string {
	var de *delivery.Error
	if errors.As(err, &de) {
		return de.Error()
	}
	var te *delivery.TransitionError
	if errors.As(err, &te) {
		return te.Error()
	}
	return err.Error()
}

// isInputCoercion reports errors gqlgen raises while unmarshalling arguments
// (bad enum value, wrong scalar), which are the client's fault. A scalar's own
// unmarshal error (a cursor, a time or an Int64 that does not parse) reaches the
// presenter as the *gqlerror.Error that graphql.ErrorOnPath made, with the
// path of the argument; gqlgen wraps resolver errors the same way (with their
// locations), so those are marked by markResolverError first.
func isInputCoercion(err error) bool {
	var re *resolverError
	if errors.As(err, &re) {
		return false // a resolver's own failure (markResolverError)
	}
	if gqlErr, ok := err.(*gqlerror.Error); ok && gqlErr.Err != nil && len(gqlErr.Path) > 0 {
		return true
	}
	var gqlErr *gqlerror.Error
	if errors.As(err, &gqlErr) {
		return gqlErr.Rule != "" || len(gqlErr.Path) > 0 && gqlErr.Err == nil
	}
	return false
}

// recoverPanic turns a resolver panic into an INTERNAL error and logs it.
func recoverPanic(log *slog.Logger) graphql.RecoverFunc {
	return func(ctx context.Context, p any) error {
		log.ErrorContext(ctx, "resolver panic", "panic", p)
		return errors.New("internal panic")
	}
}
