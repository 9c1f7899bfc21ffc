package childproc

import (
	"net"
	"testing"
)

func TestFreeAddrCanBeListenedOn(t *testing.T) {
	t.Parallel()
	addr, err := FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen on %s: %v", addr, err)
	}
	_ = ln.Close()
}
