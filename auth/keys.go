package auth

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"strings"

	"gopkg.in/yaml.v3"
)

// MinSecretLen is the shortest secret accepted outside dev mode: an HS256
// key should carry at least 256 bits, and 32 characters of a random base62
// secret carry about 190, LiveKit's own minimum.
const MinSecretLen = 32

// Keys is a set of API keys and their secrets, in the order given; the
// first one signs what the server mints itself (download links, dev
// tokens). It is read-only after parsing and safe for concurrent use.
type Keys struct {
	names   []string
	secrets map[string]string
}

// NewKeys makes a set from key/secret pairs given in order as
// key1, secret1, key2, secret2...
func NewKeys(pairs ...string) (*Keys, error) {
	if len(pairs)%2 != 0 {
		return nil, errors.New("auth: NewKeys needs key/secret pairs")
	}
	k := &Keys{secrets: map[string]string{}}
	for i := 0; i < len(pairs); i += 2 {
		if err := k.add(pairs[i], pairs[i+1]); err != nil {
			return nil, err
		}
	}
	return k, nil
}

func (k *Keys) add(key, secret string) error {
	key, secret = strings.TrimSpace(key), strings.TrimSpace(secret)
	switch {
	case key == "":
		return errors.New("auth: an API key is empty")
	case secret == "":
		return fmt.Errorf("auth: API key %q has no secret", key)
	case strings.ContainsAny(key, " \t"):
		return fmt.Errorf("auth: API key %q contains white space", key)
	}
	if _, dup := k.secrets[key]; dup {
		return fmt.Errorf("auth: API key %q is given twice", key)
	}
	k.names = append(k.names, key)
	k.secrets[key] = secret
	return nil
}

// ParseKeys reads the MCU_KEYS format: "key: secret" pairs separated by
// newlines or commas (LIVEKIT_KEYS uses the same). Only the first colon
// of a pair separates key from secret. An empty string gives an empty set.
func ParseKeys(s string) (*Keys, error) {
	k := &Keys{secrets: map[string]string{}}
	for _, line := range strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == ',' || r == '\r' }) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, secret, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("auth: key pair %q: want \"key: secret\"", redact(line))
		}
		if err := k.add(key, secret); err != nil {
			return nil, err
		}
	}
	return k, nil
}

// LoadKeysFile reads a YAML file mapping API keys to secrets, the format of
// LiveKit's key_file:
//
//	APIabc123: 7fJ...secret...
//	APIdef456: Qx2...secret...
func LoadKeysFile(path string) (*Keys, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("auth: reading keys file: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("auth: parsing keys file %s: %w", path, err)
	}
	k := &Keys{secrets: map[string]string{}}
	if len(doc.Content) == 0 {
		return k, nil
	}
	m := doc.Content[0]
	if m.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("auth: keys file %s: want a mapping of API keys to secrets", path)
	}
	// A mapping node holds key, value, key, value...: the file's order is kept.
	for i := 0; i+1 < len(m.Content); i += 2 {
		kn, vn := m.Content[i], m.Content[i+1]
		if kn.Kind != yaml.ScalarNode || vn.Kind != yaml.ScalarNode {
			return nil, fmt.Errorf("auth: keys file %s line %d: want \"key: secret\"", path, kn.Line)
		}
		if err := k.add(kn.Value, vn.Value); err != nil {
			return nil, fmt.Errorf("auth: keys file %s line %d: %w", path, kn.Line, err)
		}
	}
	return k, nil
}

// Merge returns a set with k's keys then other's; a key in both is an
// error.
func (k *Keys) Merge(other *Keys) (*Keys, error) {
	out := &Keys{secrets: map[string]string{}}
	for _, set := range []*Keys{k, other} {
		if set == nil {
			continue
		}
		for _, name := range set.names {
			if err := out.add(name, set.secrets[name]); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// Len is the number of keys.
func (k *Keys) Len() int {
	if k == nil {
		return 0
	}
	return len(k.names)
}

// Names lists the API keys in order (never the secrets).
func (k *Keys) Names() []string {
	if k == nil {
		return nil
	}
	return append([]string(nil), k.names...)
}

// First returns the first key and its secret; ok is false for an empty set.
func (k *Keys) First() (key, secret string, ok bool) {
	if k.Len() == 0 {
		return "", "", false
	}
	return k.names[0], k.secrets[k.names[0]], true
}

// Secret returns the secret of key.
func (k *Keys) Secret(key string) (string, bool) {
	if k == nil {
		return "", false
	}
	s, ok := k.secrets[key]
	return s, ok
}

// Validate refuses an empty set and, unless dev is set, any secret
// shorter than MinSecretLen.
func (k *Keys) Validate(dev bool) error {
	if k.Len() == 0 {
		return errors.New("auth: no API keys: set MCU_KEYS (\"key: secret\") or a keys file; \"mcu keys\" makes one")
	}
	if dev {
		return nil
	}
	for _, name := range k.names {
		if n := len(k.secrets[name]); n < MinSecretLen {
			return fmt.Errorf("auth: the secret of API key %q has %d characters, at least %d are needed (\"mcu keys\" makes one)", name, n, MinSecretLen)
		}
	}
	return nil
}

const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// GenerateKey makes a new API key ("API" and 12 characters, as LiveKit
// does) and a 43-character secret (256 random bits in base62).
func GenerateKey() (key, secret string) {
	return "API" + rand.Text()[:12], randomBase62(43)
}

func randomBase62(n int) string {
	b := make([]byte, n)
	// Rejection sampling keeps every character equally likely.
	buf := make([]byte, 1)
	for i := 0; i < n; {
		_, _ = rand.Read(buf) // crypto/rand.Read never fails (Go 1.24+)
		if buf[0] >= 248 {    // 248 = 4*62
			continue
		}
		b[i] = alphabet[int(buf[0])%len(alphabet)]
		i++
	}
	return string(b)
}

// redact hides what may be a secret in an error message.
func redact(s string) string {
	if len(s) <= 4 {
		return "…"
	}
	return s[:4] + "…"
}
