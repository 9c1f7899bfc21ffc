// Package childproc holds what every owner of child processes here needs: children that
// die with their parent, and a free loopback port to give one.
package childproc

import "net"

// FreeAddr is a loopback address with a port free now (a child listens on it soon).
func FreeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
