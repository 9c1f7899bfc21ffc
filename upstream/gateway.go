package upstream

import (
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // the gateway's scheme is HMAC-SHA1 (contract README §9)
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// DefaultGatewaySource is the Source header sent when GatewayKey.Source is empty.
const DefaultGatewaySource = "singbatch"

// DefaultGatewaySkew is the clock skew VerifyGatewaySignature allows when given none.
const DefaultGatewaySkew = 15 * time.Minute

// gatewaySignedHeaders are the headers the client signs, in order.
const gatewaySignedHeaders = "date source"

// ErrGatewaySignature is the class of every VerifyGatewaySignature failure.
var ErrGatewaySignature = errors.New("gateway signature invalid")

// GatewayKey is the provider's API-gateway key pair (contract README §9). When set, every
// request carries Date, Source and an HMAC-SHA1 Authorization header.
type GatewayKey struct {
	KeyID  string
	Secret Secret
	Source string // any label; default DefaultGatewaySource
}

// normalized checks the key and fills the default Source.
func (k GatewayKey) normalized() (GatewayKey, error) {
	if k.KeyID == "" || k.Secret.IsZero() {
		return k, errors.New("both KeyID and Secret are required")
	}
	if k.Source == "" {
		k.Source = DefaultGatewaySource
	}
	if !headerSafe(k.KeyID) || strings.Contains(k.KeyID, `"`) {
		return k, errors.New("the KeyID must be printable and contain no quote")
	}
	if !headerSafe(k.Source) {
		return k, errors.New("the Source must be printable")
	}
	return k, nil
}

// Sign sets the Date (from now), Source and Authorization headers on r.
func (k GatewayKey) Sign(r *http.Request, now time.Time) {
	source := k.Source
	if source == "" {
		source = DefaultGatewaySource
	}
	date := now.UTC().Format(http.TimeFormat)
	r.Header.Set("Date", date)
	r.Header.Set("Source", source)
	sig := gatewaySignature(k.Secret, gatewaySigningString(r.Header, strings.Fields(gatewaySignedHeaders)))
	r.Header.Set("Authorization", fmt.Sprintf(`hmac id="%s", algorithm="hmac-sha1", headers="%s", signature="%s"`,
		k.KeyID, gatewaySignedHeaders, sig))
}

// VerifyGatewaySignature checks r's gateway signature headers against the key, and that
// its Date is within skew of now (skew <= 0 means DefaultGatewaySkew). Errors wrap
// ErrGatewaySignature and never reveal the secret or the expected signature.
func VerifyGatewaySignature(r *http.Request, keyID string, secret Secret, now time.Time, skew time.Duration) error {
	fail := func(reason string) error { return fmt.Errorf("%w: %s", ErrGatewaySignature, reason) }
	params, err := parseHMACAuthorization(r.Header.Get("Authorization"))
	if err != nil {
		return fail(err.Error())
	}
	if keyID == "" || secret.IsZero() {
		return fail("no gateway key configured")
	}
	if !hmac.Equal([]byte(params["id"]), []byte(keyID)) {
		return fail("unknown key id")
	}
	if !strings.EqualFold(params["algorithm"], "hmac-sha1") {
		return fail("algorithm must be hmac-sha1")
	}
	headers := strings.Fields(strings.ToLower(params["headers"]))
	hasDate := false
	for _, h := range headers {
		if r.Header.Get(h) == "" {
			return fail("signed header " + h + " is missing")
		}
		hasDate = hasDate || h == "date"
	}
	if !hasDate {
		return fail("the date header must be signed")
	}
	date, err := http.ParseTime(r.Header.Get("Date"))
	if err != nil {
		return fail("Date is not an HTTP date")
	}
	if skew <= 0 {
		skew = DefaultGatewaySkew
	}
	if date.Before(now.Add(-skew)) || date.After(now.Add(skew)) {
		return fail("Date is outside the allowed clock skew")
	}
	want := gatewaySignature(secret, gatewaySigningString(r.Header, headers))
	if !hmac.Equal([]byte(params["signature"]), []byte(want)) {
		return fail("signature mismatch")
	}
	return nil
}

// gatewaySigningString is "name: value" per signed header, joined by newlines.
func gatewaySigningString(h http.Header, names []string) string {
	lines := make([]string, len(names))
	for i, n := range names {
		lines[i] = strings.ToLower(n) + ": " + h.Get(n)
	}
	return strings.Join(lines, "\n")
}

func gatewaySignature(secret Secret, signingString string) string {
	m := hmac.New(sha1.New, []byte(secret.Reveal()))
	m.Write([]byte(signingString))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// parseHMACAuthorization reads `hmac id="…", algorithm="…", headers="…", signature="…"`.
func parseHMACAuthorization(v string) (map[string]string, error) {
	scheme, rest, ok := strings.Cut(strings.TrimSpace(v), " ")
	if !ok || !strings.EqualFold(scheme, "hmac") {
		return nil, errors.New(`the Authorization header is not an "hmac" signature`)
	}
	params := map[string]string{}
	for part := range strings.SplitSeq(rest, ",") {
		name, value, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return nil, errors.New("the Authorization header has a malformed parameter")
		}
		value = strings.TrimSpace(value)
		if len(value) < 2 || value[0] != '"' || value[len(value)-1] != '"' {
			return nil, errors.New("the Authorization header parameters must be quoted")
		}
		params[strings.ToLower(strings.TrimSpace(name))] = value[1 : len(value)-1]
	}
	for _, name := range []string{"id", "algorithm", "headers", "signature"} {
		if params[name] == "" {
			return nil, fmt.Errorf("the Authorization header has no %s", name)
		}
	}
	return params, nil
}

func headerSafe(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r > 0x7e {
			return false
		}
	}
	return true
}
