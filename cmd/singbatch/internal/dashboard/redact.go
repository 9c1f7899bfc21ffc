package dashboard

import (
	"bytes"
	"encoding/json"
	"net/http"
	"sort"
	"strings"

	"github.com/singbatch/singbatch/upstream"
)

// redactedText replaces a secret in anything the dashboard shows, as upstream.Secret prints.
const redactedText = "REDACTED"

// scrubber removes known secret values from strings. Nothing the dashboard reads should
// hold one — the upstream client sanitizes its errors and task payloads carry only
// references — so this is the last line: if a secret ever slips into an item's error or
// a task's last error, the dashboard still does not show it.
type scrubber struct {
	values []string // raw and JSON-escaped forms, longest first
}

func newScrubber(secrets ...upstream.Secret) scrubber {
	seen := map[string]bool{}
	var s scrubber
	add := func(v string) {
		if v != "" && !seen[v] {
			seen[v] = true
			s.values = append(s.values, v)
		}
	}
	for _, sec := range secrets {
		v := sec.Reveal()
		add(v)
		// A JSON document holds the secret escaped (json.Encoder escapes <, >, &, quotes).
		if q, err := json.Marshal(v); err == nil {
			add(string(q[1 : len(q)-1]))
		}
	}
	// Longest first, so a secret containing another is removed whole.
	sort.SliceStable(s.values, func(i, j int) bool { return len(s.values[i]) > len(s.values[j]) })
	return s
}

// clean returns s without any secret.
func (s scrubber) clean(v string) string {
	for _, sec := range s.values {
		v = strings.ReplaceAll(v, sec, redactedText)
	}
	return v
}

// active reports whether there is anything to scrub.
func (s scrubber) active() bool { return len(s.values) > 0 }

// asynqmonAPI scrubs the replies of the Asynq UI's JSON API (under prefix), which show
// task payloads and last errors as stored. A JSON reply is decoded and every string in
// it cleaned, so the reply stays valid JSON whatever the secret's characters; any other
// reply is cleaned as text. The UI's static files pass through untouched.
func (s scrubber) asynqmonAPI(prefix string, next http.Handler) http.Handler {
	if !s.active() {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, prefix) {
			next.ServeHTTP(w, r)
			return
		}
		bw := &bufferedWriter{header: http.Header{}, status: http.StatusOK}
		next.ServeHTTP(bw, r)
		body := s.cleanBody(bw.body.Bytes())
		for k, v := range bw.header {
			w.Header()[k] = v
		}
		w.Header().Del("Content-Length")
		w.WriteHeader(bw.status)
		_, _ = w.Write(body)
	})
}

// cleanBody cleans a reply: string by string when it is JSON, as text otherwise.
func (s scrubber) cleanBody(b []byte) []byte {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber() // keep numbers exactly as sent
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	n := 0
	for ; dec.More(); n++ {
		var v any
		if err := dec.Decode(&v); err != nil {
			return []byte(s.clean(string(b)))
		}
		if err := enc.Encode(s.cleanValue(v)); err != nil {
			return []byte(s.clean(string(b)))
		}
	}
	if n == 0 {
		return []byte(s.clean(string(b)))
	}
	return out.Bytes()
}

func (s scrubber) cleanValue(v any) any {
	switch x := v.(type) {
	case string:
		return s.clean(x)
	case []any:
		for i := range x {
			x[i] = s.cleanValue(x[i])
		}
		return x
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[s.clean(k)] = s.cleanValue(e)
		}
		return m
	}
	return v
}

// bufferedWriter holds a reply so it can be cleaned before it is sent. The Asynq UI's
// API replies are one page of tasks at most, so holding one is cheap.
type bufferedWriter struct {
	header      http.Header
	status      int
	wroteHeader bool
	body        bytes.Buffer
}

func (b *bufferedWriter) Header() http.Header { return b.header }

func (b *bufferedWriter) WriteHeader(status int) {
	if !b.wroteHeader {
		b.status, b.wroteHeader = status, true
	}
}

func (b *bufferedWriter) Write(p []byte) (int, error) {
	b.WriteHeader(http.StatusOK)
	return b.body.Write(p)
}
