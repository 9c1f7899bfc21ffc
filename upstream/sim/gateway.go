package sim

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/singbatch/singbatch/upstream"
)

// verifyGateway checks the gateway signature headers; the reason never carries the
// secret (upstream.VerifyGatewaySignature promises that).
func (s *Server) verifyGateway(r *http.Request, g *GatewayAuth, now time.Time) error {
	err := upstream.VerifyGatewaySignature(r, g.KeyID, g.Secret, now, g.Skew)
	if err == nil {
		return nil
	}
	return errors.New(strings.TrimPrefix(err.Error(), upstream.ErrGatewaySignature.Error()+": "))
}
