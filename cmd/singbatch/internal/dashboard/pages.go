package dashboard

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"time"

	"go.uber.org/zap"
)

// pageCSP forbids scripts, inline styles and framing on the batch pages: they are plain
// server-rendered HTML, so anything else would be an injection.
const pageCSP = "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// parsePages parses each page together with the shared layout.
func parsePages() (map[string]*template.Template, error) {
	funcs := template.FuncMap{
		"when": func(t time.Time) string {
			if t.IsZero() {
				return ""
			}
			return t.UTC().Format("2006-01-02 15:04:05 UTC")
		},
		"iso": func(t time.Time) string {
			if t.IsZero() {
				return ""
			}
			return t.UTC().Format(time.RFC3339)
		},
	}
	pages := map[string]*template.Template{}
	for _, name := range []string{"batches", "batch", "error"} {
		t, err := template.New(name).Funcs(funcs).ParseFS(webFiles, "web/layout.html", "web/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("dashboard: template %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// httpError is a request the dashboard refuses, with a message safe to show.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

// pageFunc reads what a page shows; it returns the template name and its data.
type pageFunc func(ctx context.Context, r *http.Request) (string, any, error)

// page renders a pageFunc's result, or an error page. Internal errors are logged and
// shown only as a generic message.
func (d *Dashboard) page(fn pageFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), redisTimeout)
		defer cancel()
		name, data, err := fn(ctx, r)
		status := http.StatusOK
		if err != nil {
			var he *httpError
			if !errors.As(err, &he) {
				d.opts.Log.Error("dashboard page", zap.String("path", r.URL.Path), zap.Error(err))
				he = &httpError{http.StatusInternalServerError, "Could not read from Redis; the dashboard's log has the details."}
			}
			name, status = "error", he.status
			data = struct{ Title, Message string }{http.StatusText(he.status), d.scrub.clean(he.msg)}
		}
		var buf bytes.Buffer
		if err := d.pages[name].ExecuteTemplate(&buf, "layout", data); err != nil {
			d.opts.Log.Error("dashboard template", zap.String("page", name), zap.Error(err))
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Security-Policy", pageCSP)
		h.Set("Cache-Control", "no-store")
		w.WriteHeader(status)
		_, _ = w.Write(buf.Bytes())
	})
}
