package server

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/cairnhq/cairn/auth"
	"github.com/cairnhq/cairn/delivery"
)

// secureFileUploadHandler serves POST /api/securefiles?name=…[&description=…][&replace=true]:
// the request body is the file's content, streamed into the engine (at most
// delivery.MaxSecureFileBytes; larger is 413 and nothing is stored). The answer is the file's
// metadata, never its content; no endpoint of the API returns the content. An error answers
// {"error": {"code", "message", "field"}}, field naming the input at fault (name, description,
// content) as GraphQL's extensions.field does, so that a form shows it beside that input.
func secureFileUploadHandler(e *delivery.Engine, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, ok := auth.ActorFrom(r.Context())
		if !ok {
			auth.WriteError(w, http.StatusUnauthorized, string(delivery.CodeUnauthenticated), "authentication required")
			return
		}
		q := r.URL.Query()
		replace := false
		if v := q.Get("replace"); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				writeUploadError(w, http.StatusBadRequest, string(delivery.CodeInvalidInput), "replace must be true or false", "replace")
				return
			}
			replace = b
		}
		if r.ContentLength > delivery.MaxSecureFileBytes {
			writeUploadError(w, http.StatusRequestEntityTooLarge, string(delivery.CodeInvalidInput), delivery.ErrSecureFileTooLarge.Error(), "content")
			return
		}
		body := http.MaxBytesReader(w, r.Body, delivery.MaxSecureFileBytes+1)
		f, err := e.UploadSecureFile(r.Context(), a, delivery.SecureFileInput{
			Name: q.Get("name"), Description: q.Get("description"), Replace: replace,
		}, body)
		if err != nil {
			var tooBig *http.MaxBytesError
			var de *delivery.Error
			if errors.As(err, &tooBig) || (errors.As(err, &de) && de == delivery.ErrSecureFileTooLarge) {
				writeUploadError(w, http.StatusRequestEntityTooLarge, string(delivery.CodeInvalidInput), delivery.ErrSecureFileTooLarge.Error(), "content")
				return
			}
			status := http.StatusInternalServerError
			switch delivery.CodeOf(err) {
			case delivery.CodeInvalidInput:
				status = http.StatusBadRequest
			case delivery.CodeForbidden:
				status = http.StatusForbidden
			case delivery.CodeConflict:
				status = http.StatusConflict
			case delivery.CodeNotFound:
				status = http.StatusNotFound
			case delivery.CodeUnauthenticated:
				status = http.StatusUnauthorized
			}
			msg := err.Error()
			if status == http.StatusInternalServerError {
				log.ErrorContext(r.Context(), "uploading a secure file", "err", err)
				msg = "internal error"
			}
			field := ""
			if errors.As(err, &de) && status != http.StatusInternalServerError {
				field = de.Field
			}
			writeUploadError(w, status, string(delivery.CodeOf(err)), msg, field)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(map[string]any{
			"id": strconv.Itoa(f.ID), "name": f.Name, "description": f.Description, "size": f.Size, "sha256": f.Sha256,
		})
	})
}

// writeUploadError is auth.WriteError with the input the error names, when it names one.
func writeUploadError(w http.ResponseWriter, status int, code, message, field string) {
	body := map[string]string{"code": code, "message": message}
	if field != "" {
		body["field"] = field
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": body})
}
