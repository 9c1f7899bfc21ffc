package upstream_test

import (
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // the gateway's scheme
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/singbatch/singbatch/upstream"
)

const (
	testGatewayID     = "AKID-gw-1"
	testGatewaySecret = "GW-S3CR3T-xyzzy-9999"
)

// TestGatewayHeaders: with a gateway key every request carries the contract's headers,
// with the signature computed here independently from README §9, and the simulator's
// verifier accepts them.
func TestGatewayHeaders(t *testing.T) {
	t.Parallel()
	var verifyErr error
	b := setupClient(t, func(w http.ResponseWriter, r *http.Request) {
		verifyErr = upstream.VerifyGatewaySignature(r, testGatewayID, upstream.NewSecret(testGatewaySecret), testNow.Add(time.Minute), 0)
		reply(200, jobReply("job-1"))(w, r)
	}, func(o *upstream.Options) {
		o.Gateway = &upstream.GatewayKey{KeyID: testGatewayID, Secret: upstream.NewSecret(testGatewaySecret), Source: "batch-7"}
	})
	if _, err := b.client.GetJob(t.Context(), "job-1"); err != nil {
		t.Fatalf("GetJob: %v", err)
	}
	if verifyErr != nil {
		t.Errorf("verify: %v", verifyErr)
	}
	h := b.rec.header(0)
	const wantDate = "Tue, 05 Mar 2024 10:20:30 GMT"
	if h.Get("Date") != wantDate || h.Get("Source") != "batch-7" {
		t.Errorf("Date %q Source %q, want %q batch-7", h.Get("Date"), h.Get("Source"), wantDate)
	}
	mac := hmac.New(sha1.New, []byte(testGatewaySecret))
	mac.Write([]byte("date: " + wantDate + "\nsource: batch-7"))
	wantAuth := `hmac id="AKID-gw-1", algorithm="hmac-sha1", headers="date source", signature="` +
		base64.StdEncoding.EncodeToString(mac.Sum(nil)) + `"`
	if got := h.Get("Authorization"); got != wantAuth {
		t.Errorf("Authorization\n got %s\nwant %s", got, wantAuth)
	}
}

// TestGatewayDefaultSourceAndOff: Source defaults; without a key no header is sent.
func TestGatewayDefaultSourceAndOff(t *testing.T) {
	t.Parallel()
	on := setupClient(t, reply(200, jobReply("job-1")), func(o *upstream.Options) {
		o.Gateway = &upstream.GatewayKey{KeyID: testGatewayID, Secret: upstream.NewSecret(testGatewaySecret)}
	})
	off := setupClient(t, reply(200, jobReply("job-1")))
	for _, b := range []*clientBundle{on, off} {
		if _, err := b.client.GetJob(t.Context(), "job-1"); err != nil {
			t.Fatalf("GetJob: %v", err)
		}
	}
	if got := on.rec.header(0).Get("Source"); got != upstream.DefaultGatewaySource {
		t.Errorf("Source %q, want %q", got, upstream.DefaultGatewaySource)
	}
	for _, name := range []string{"Authorization", "Source"} {
		if v := off.rec.header(0).Get(name); v != "" {
			t.Errorf("without a gateway key, %s is %q", name, v)
		}
	}
}

// TestVerifyGatewaySignature: every way a signature can be wrong is refused, and no
// error reveals the secret.
func TestVerifyGatewaySignature(t *testing.T) {
	t.Parallel()
	key := upstream.GatewayKey{KeyID: testGatewayID, Secret: upstream.NewSecret(testGatewaySecret), Source: "src"}
	signed := func() *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/release/job", nil)
		key.Sign(r, testNow)
		return r
	}
	secret := upstream.NewSecret(testGatewaySecret)
	if err := upstream.VerifyGatewaySignature(signed(), testGatewayID, secret, testNow, time.Minute); err != nil {
		t.Fatalf("valid signature refused: %v", err)
	}
	tests := []struct {
		name   string
		modify func(*http.Request)
		keyID  string
		secret string
		now    time.Time
	}{
		{name: "wrong secret", secret: "other-secret"},
		{name: "wrong key id", keyID: "AKID-other"},
		{name: "tampered source", modify: func(r *http.Request) { r.Header.Set("Source", "evil") }},
		{name: "tampered date", modify: func(r *http.Request) { r.Header.Set("Date", testNow.Add(time.Second).Format(http.TimeFormat)) }},
		{name: "stale date", now: testNow.Add(2 * time.Minute)},
		{name: "future date", now: testNow.Add(-2 * time.Minute)},
		{name: "no Authorization", modify: func(r *http.Request) { r.Header.Del("Authorization") }},
		{name: "basic auth", modify: func(r *http.Request) { r.Header.Set("Authorization", "Basic dXNlcjpwYXNz") }},
		{name: "unquoted params", modify: func(r *http.Request) {
			r.Header.Set("Authorization", strings.ReplaceAll(r.Header.Get("Authorization"), `"`, ""))
		}},
		{name: "other algorithm", modify: func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "hmac-sha1", "hmac-sha256", 1))
		}},
		{name: "date not signed", modify: func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), `headers="date source"`, `headers="source"`, 1))
		}},
		{name: "no Date", modify: func(r *http.Request) { r.Header.Del("Date") }},
		{name: "no Source", modify: func(r *http.Request) { r.Header.Del("Source") }},
	}
	for _, tt := range tests {
		r := signed()
		if tt.modify != nil {
			tt.modify(r)
		}
		keyID, sec, now := testGatewayID, secret, testNow
		if tt.keyID != "" {
			keyID = tt.keyID
		}
		if tt.secret != "" {
			sec = upstream.NewSecret(tt.secret)
		}
		if !tt.now.IsZero() {
			now = tt.now
		}
		err := upstream.VerifyGatewaySignature(r, keyID, sec, now, time.Minute)
		if !errors.Is(err, upstream.ErrGatewaySignature) {
			t.Errorf("%s: error %v, want ErrGatewaySignature", tt.name, err)
			continue
		}
		if strings.Contains(err.Error(), testGatewaySecret) {
			t.Errorf("%s: error reveals the secret", tt.name)
		}
	}
}
