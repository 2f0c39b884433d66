package peer

import (
	"fmt"
	"sync"

	"github.com/pion/transport/v5"
	"github.com/pion/transport/v5/stdnet"
)

// freshNet lists the machine's interfaces anew each time ICE gathers, so
// that an ICE restart after a network change finds the new addresses. Each
// list is a new stdnet.Net, never changed once made, since ICE gathers on
// several goroutines at once.
type freshNet struct {
	transport.Net // listening and dialing

	mu  sync.Mutex
	cur *stdnet.Net // the latest interface list
}

func newFreshNet() (*freshNet, error) {
	n, err := stdnet.NewNet()
	if err != nil {
		return nil, fmt.Errorf("peer: listing interfaces: %w", err)
	}
	return &freshNet{Net: n, cur: n}, nil
}

func (n *freshNet) Interfaces() ([]*transport.Interface, error) {
	fresh, err := stdnet.NewNet()
	if err != nil {
		return nil, fmt.Errorf("peer: listing interfaces: %w", err)
	}
	n.mu.Lock()
	n.cur = fresh
	n.mu.Unlock()
	return fresh.Interfaces()
}

func (n *freshNet) latest() *stdnet.Net {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.cur
}

func (n *freshNet) InterfaceByIndex(index int) (*transport.Interface, error) {
	return n.latest().InterfaceByIndex(index)
}

func (n *freshNet) InterfaceByName(name string) (*transport.Interface, error) {
	return n.latest().InterfaceByName(name)
}
