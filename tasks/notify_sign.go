package tasks

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// NotifySecret is NOTIFY_SECRET: the key that signs batch notifications as Standard
// Webhooks do, and seals their URLs in Redis. Its String never shows the key.
type NotifySecret struct{ key []byte }

// minNotifyKey is the least key length accepted: 24 bytes (192 bits), as the Standard
// Webhooks spec asks of a secret (between 24 and 64 bytes).
const minNotifyKey = 24

// ParseNotifySecret reads a secret in the Standard Webhooks form "whsec_" + base64 of
// the key.
func ParseNotifySecret(s string) (NotifySecret, error) {
	b64, ok := strings.CutPrefix(s, "whsec_")
	if !ok {
		return NotifySecret{}, errors.New(`NOTIFY_SECRET: must be "whsec_" followed by the base64 of a key`)
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return NotifySecret{}, errors.New("NOTIFY_SECRET: the part after whsec_ is not base64")
	}
	if len(key) < minNotifyKey || len(key) > 64 {
		return NotifySecret{}, fmt.Errorf("NOTIFY_SECRET: a key of %d bytes; use 24 to 64 (e.g. whsec_$(head -c 32 /dev/urandom | base64))", len(key))
	}
	return NotifySecret{key: key}, nil
}

// IsZero reports whether no secret is set.
func (s NotifySecret) IsZero() bool { return len(s.key) == 0 }

// String hides the key.
func (s NotifySecret) String() string { return "whsec_[redacted]" }

// sign is the webhook-signature header's value: "v1," + base64 of HMAC-SHA256 over
// "id.timestamp.body".
func (s NotifySecret) sign(id string, ts time.Time, body []byte) string {
	mac := hmac.New(sha256.New, s.key)
	mac.Write([]byte(id + "." + strconv.FormatInt(ts.Unix(), 10) + "."))
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// sealKey is the AES-256 key that seals notification URLs, derived from the signing key
// so that one secret serves both, and neither use gives away the other.
func (s NotifySecret) sealKey() []byte {
	mac := hmac.New(sha256.New, s.key)
	mac.Write([]byte("singbatch notify-url seal v1"))
	return mac.Sum(nil)
}

// SealURL checks a notification URL (http or https, with a host) and encrypts it
// (AES-GCM) for the batch record: a URL may carry a token of the receiver's.
func (s NotifySecret) SealURL(raw string) (string, error) {
	if s.IsZero() {
		return "", errors.New("--notify needs NOTIFY_SECRET (whsec_ + base64 of a key of 24 to 64 bytes) to sign the notification")
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", errors.New("--notify: not an http(s) URL with a host")
	}
	aead, err := s.aead()
	if err != nil {
		return "", err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("seal the notification URL: %w", err)
	}
	return "v1:" + base64.RawURLEncoding.EncodeToString(aead.Seal(nonce, nonce, []byte(raw), nil)), nil
}

// openURL decrypts a sealed URL.
// errNotifySecretDiffers: the URL was sealed under another NOTIFY_SECRET, which
// another worker may hold.
var errNotifySecretDiffers = errors.New("cannot open the notification URL: NOTIFY_SECRET is not the one it was sealed with")

func (s NotifySecret) openURL(sealed string) (string, error) {
	b64, ok := strings.CutPrefix(sealed, "v1:")
	if !ok {
		return "", errors.New("sealed notification URL of an unknown version")
	}
	box, err := base64.RawURLEncoding.DecodeString(b64)
	if err != nil {
		return "", errors.New("sealed notification URL is not base64")
	}
	aead, err := s.aead()
	if err != nil {
		return "", err
	}
	if len(box) < aead.NonceSize() {
		return "", errors.New("sealed notification URL is too short")
	}
	plain, err := aead.Open(nil, box[:aead.NonceSize()], box[aead.NonceSize():], nil)
	if err != nil {
		return "", errNotifySecretDiffers
	}
	return string(plain), nil
}

func (s NotifySecret) aead() (cipher.AEAD, error) {
	block, err := aes.NewCipher(s.sealKey())
	if err != nil {
		return nil, fmt.Errorf("notify seal: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("notify seal: %w", err)
	}
	return aead, nil
}
