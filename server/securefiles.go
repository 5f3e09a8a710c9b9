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
// metadata, never its content; no endpoint of the API returns the content.
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
				auth.WriteError(w, http.StatusBadRequest, string(delivery.CodeInvalidInput), "replace must be true or false")
				return
			}
			replace = b
		}
		if r.ContentLength > delivery.MaxSecureFileBytes {
			auth.WriteError(w, http.StatusRequestEntityTooLarge, string(delivery.CodeInvalidInput), delivery.ErrSecureFileTooLarge.Error())
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
				auth.WriteError(w, http.StatusRequestEntityTooLarge, string(delivery.CodeInvalidInput), delivery.ErrSecureFileTooLarge.Error())
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
			auth.WriteError(w, status, string(delivery.CodeOf(err)), msg)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(map[string]any{
			"id": strconv.Itoa(f.ID), "name": f.Name, "description": f.Description, "size": f.Size, "sha256": f.Sha256,
		})
	})
}
