package upstream

import (
	"fmt"
	"log/slog"
)

const redacted = "REDACTED"

// Secret holds a credential. It prints, formats, marshals and logs as REDACTED; only
// Reveal gives the value, and only the request encoder calls it.
type Secret struct{ value string }

// NewSecret wraps a credential.
func NewSecret(v string) Secret { return Secret{value: v} }

// Reveal returns the credential for the wire.
func (s Secret) Reveal() string { return s.value }

// IsZero reports whether no credential is set.
func (s Secret) IsZero() bool { return s.value == "" }

func (Secret) String() string                  { return redacted }
func (Secret) GoString() string                { return redacted }
func (Secret) Format(f fmt.State, _ rune)      { _, _ = f.Write([]byte(redacted)) }
func (Secret) MarshalJSON() ([]byte, error)    { return []byte(`"` + redacted + `"`), nil }
func (Secret) MarshalText() ([]byte, error)    { return []byte(redacted), nil }
func (Secret) LogValue() slog.Value            { return slog.StringValue(redacted) }
func (s *Secret) UnmarshalText(b []byte) error { s.value = string(b); return nil }

// Credentials are the account's secretId and secretKey, sent in every request body.
type Credentials struct {
	SecretID  Secret
	SecretKey Secret
}
