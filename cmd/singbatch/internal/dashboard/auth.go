package dashboard

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"

	"github.com/singbatch/singbatch/upstream"
)

// Auth is the dashboard's HTTP basic authentication (DASHBOARD_USER,
// DASHBOARD_PASSWORD). The zero value lets everyone in: only for a listener on
// loopback (the dashboard command refuses any other).
type Auth struct {
	User     string
	Password upstream.Secret
}

// Enabled reports whether credentials are configured.
func (a Auth) Enabled() bool { return a.User != "" || !a.Password.IsZero() }

// wrap asks every request but the health probe for the credentials. Both are compared
// as SHA-256 digests in constant time, so neither their content nor their length leaks
// through timing.
func (a Auth) wrap(next http.Handler) http.Handler {
	if !a.Enabled() {
		return next
	}
	wantUser, wantPass := sha256.Sum256([]byte(a.User)), sha256.Sum256([]byte(a.Password.Reveal()))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Path == "/healthz" {
			next.ServeHTTP(w, r)
			return
		}
		user, pass, ok := r.BasicAuth()
		gotUser, gotPass := sha256.Sum256([]byte(user)), sha256.Sum256([]byte(pass))
		if !ok || subtle.ConstantTimeCompare(gotUser[:], wantUser[:])&subtle.ConstantTimeCompare(gotPass[:], wantPass[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="singbatch", charset="UTF-8"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}
