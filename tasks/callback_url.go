package tasks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/upstream"
)

// MinCallbackSecret is the least CALLBACK_SECRET length: 256 bits.
const MinCallbackSecret = 32

// callbackRoute is the path segment that starts a callback path. What follows is
// BATCH/ITEM/ATTEMPT/TOKEN; the receiver finds it at the end of whatever path the
// public URL's proxy forwards.
const callbackRoute = "/cb/v1/"

// Callbacks makes and checks the per-attempt callback URLs: CALLBACK_URL + /cb/v1/BATCH/
// ITEM/ATTEMPT/TOKEN, where TOKEN is an HMAC of the rest under CALLBACK_SECRET. The URL
// is a credential: it is derived whenever needed, never stored, logged or shown.
type Callbacks struct {
	base string   // CALLBACK_URL without its trailing slash
	keys [][]byte // the secret, then the previous one (rotation)
}

var (
	errNoCallbackRoute = errors.New("not a callback path")
	errBadCallbackMAC  = errors.New("callback token does not match")
)

// NewCallbacks checks the settings. previous may be zero.
func NewCallbacks(baseURL string, secret, previous upstream.Secret) (*Callbacks, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("CALLBACK_URL: must be an absolute http(s) URL without query or fragment")
	}
	c := &Callbacks{base: strings.TrimSuffix(baseURL, "/")}
	for _, s := range []struct {
		name string
		v    upstream.Secret
	}{{"CALLBACK_SECRET", secret}, {"CALLBACK_SECRET_PREVIOUS", previous}} {
		if s.v.IsZero() && s.name == "CALLBACK_SECRET_PREVIOUS" {
			continue
		}
		if n := len(s.v.Reveal()); n < MinCallbackSecret {
			return nil, fmt.Errorf("%s: must be at least %d bytes, not %d", s.name, MinCallbackSecret, n)
		}
		c.keys = append(c.keys, []byte(s.v.Reveal()))
	}
	return c, nil
}

// URL is the callback URL of one attempt.
func (c *Callbacks) URL(ref ItemRef) string {
	rest := ref.Batch + "/" + ref.Item + "/" + strconv.Itoa(ref.Attempt)
	return c.base + callbackRoute + rest + "/" + callbackMAC(c.keys[0], rest)
}

// parse finds the attempt a callback path names and checks its token against every
// secret in constant time.
func (c *Callbacks) parse(path string) (ItemRef, error) {
	i := strings.LastIndex(path, callbackRoute)
	if i < 0 {
		return ItemRef{}, errNoCallbackRoute
	}
	parts := strings.Split(path[i+len(callbackRoute):], "/")
	if len(parts) != 4 {
		return ItemRef{}, errNoCallbackRoute
	}
	attempt, err := strconv.Atoi(parts[2])
	if err != nil || attempt < 1 || batch.ValidBatchName(parts[0]) != nil || parts[1] == "" {
		return ItemRef{}, errNoCallbackRoute
	}
	rest := parts[0] + "/" + parts[1] + "/" + parts[2]
	ok := false
	for _, k := range c.keys {
		// Every key is tried, so the time taken says nothing of which one matched.
		ok = hmac.Equal([]byte(callbackMAC(k, rest)), []byte(parts[3])) || ok
	}
	if !ok {
		return ItemRef{}, errBadCallbackMAC
	}
	return ItemRef{Batch: parts[0], Item: parts[1], Attempt: attempt}, nil
}

// callbackMAC is 192 bits of HMAC-SHA256, URL-safe.
func callbackMAC(key []byte, rest string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("singbatch callback v1\x00" + rest))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:24])
}

// redactCallbackPath drops a callback path's token, for logs.
func redactCallbackPath(path string) string {
	i := strings.LastIndex(path, callbackRoute)
	if i < 0 {
		return path
	}
	j := strings.LastIndexByte(path, '/')
	if j <= i+len(callbackRoute) {
		return path[:i+len(callbackRoute)] + "…"
	}
	return path[:j+1] + "…"
}
