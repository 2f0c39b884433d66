package config

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// Size is a number of bytes, written as 512MB, 2GiB or plain bytes.
type Size int64

var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1},
}

// ParseSize reads a size such as "512MB", "2GiB" or "1048576".
func ParseSize(s string) (Size, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range sizeUnits {
		if len(t) > len(u.suffix) && strings.EqualFold(t[len(t)-len(u.suffix):], u.suffix) {
			t, mult = strings.TrimSpace(t[:len(t)-len(u.suffix)]), u.mult
			break
		}
	}
	n, err := strconv.ParseFloat(t, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%w: %q", errBadSize, s)
	}
	return Size(n * float64(mult)), nil
}

// String writes s with the largest binary unit that divides it.
func (s Size) String() string {
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if s != 0 && int64(s)%u.mult == 0 {
			return strconv.FormatInt(int64(s)/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatInt(int64(s), 10)
}

// field is one setting: a leaf of Config reached by index.
type field struct {
	key    string // YAML path, e.g. "webhook.api_key"
	env    string
	flag   string
	usage  string
	secret bool
	index  []int
	typ    reflect.Type
}

var (
	durationType  = reflect.TypeFor[time.Duration]()
	sizeType      = reflect.TypeFor[Size]()
	stringsType   = reflect.TypeFor[[]string]()
	keysType      = reflect.TypeFor[map[string]string]()
	iceServerType = reflect.TypeFor[[]ICEServer]()
)

// fields lists every setting of Config in declaration order.
var fields = collect(reflect.TypeFor[Config](), "", nil)

func collect(t reflect.Type, prefix string, index []int) []field {
	var out []field
	for i := range t.NumField() {
		sf := t.Field(i)
		name := sf.Tag.Get("yaml")
		if name == "" || !sf.IsExported() {
			continue
		}
		idx := append(append([]int(nil), index...), i)
		if sf.Type.Kind() == reflect.Struct && sf.Type != durationType {
			out = append(out, collect(sf.Type, prefix+name+".", idx)...)
			continue
		}
		out = append(out, field{
			key: prefix + name, env: sf.Tag.Get("env"), flag: sf.Tag.Get("flag"),
			usage: sf.Tag.Get("usage"), secret: sf.Tag.Get("secret") == "true",
			index: idx, typ: sf.Type,
		})
	}
	return out
}

// want describes the values a field of type t accepts, for error messages.
func want(t reflect.Type) string {
	switch t {
	case durationType:
		return "a duration such as 30s or 2m"
	case sizeType:
		return "a size such as 512MB or 2GiB"
	case stringsType:
		return "a list of strings"
	case keysType:
		return "key: secret pairs"
	case iceServerType:
		return "a list of ICE servers"
	}
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int:
		return "an integer"
	}
	return "a string"
}

// setString parses s (from an environment variable, a flag or a YAML
// scalar) into the field of c.
func (f *field) setString(c *Config, s string) error {
	v := reflect.ValueOf(c).Elem().FieldByIndex(f.index)
	switch f.typ {
	case durationType:
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil {
			return errWant
		}
		v.SetInt(int64(d))
		return nil
	case sizeType:
		n, err := ParseSize(s)
		if err != nil {
			return errWant
		}
		v.SetInt(int64(n))
		return nil
	case stringsType:
		v.Set(reflect.ValueOf(splitList(s)))
		return nil
	case keysType:
		keys, err := ParseKeys(s)
		if err != nil {
			return err
		}
		v.Set(reflect.ValueOf(keys))
		return nil
	case iceServerType:
		servers, err := parseICEServers(s)
		if err != nil {
			return err
		}
		v.Set(reflect.ValueOf(servers))
		return nil
	}
	switch f.typ.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return errWant
		}
		v.SetBool(b)
	case reflect.Int:
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return errWant
		}
		v.SetInt(int64(n))
	default:
		return fmt.Errorf("config: %s: unsupported type %s", f.key, f.typ)
	}
	return nil
}

// text writes the field's value of c as it would be written in a flag or
// environment variable, secrets masked.
func (f *field) text(c *Config) string {
	v := reflect.ValueOf(c).Elem().FieldByIndex(f.index)
	switch f.typ {
	case durationType:
		return time.Duration(v.Int()).String()
	case sizeType:
		return Size(v.Int()).String()
	case stringsType:
		return strings.Join(v.Interface().([]string), ",")
	case keysType:
		var parts []string
		for _, k := range sortedKeys(v.Interface().(map[string]string)) {
			parts = append(parts, k+": "+mask)
		}
		return strings.Join(parts, ", ")
	case iceServerType:
		var parts []string
		for _, s := range v.Interface().([]ICEServer) {
			for _, u := range s.URLs {
				if s.Username != "" || s.Credential != "" {
					u = s.Username + ":" + mask + "@" + u
				}
				parts = append(parts, u)
			}
		}
		return strings.Join(parts, ",")
	}
	return fmt.Sprint(v.Interface())
}

// mask replaces every secret when a configuration is printed.
const mask = "********"

func splitList(s string) []string {
	var out []string
	for p := range strings.SplitSeq(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// ParseKeys reads "key: secret" pairs separated by commas or newlines, the
// format of MCU_KEYS (and LiveKit's LIVEKIT_KEYS).
func ParseKeys(s string) (map[string]string, error) {
	keys := map[string]string{}
	for line := range strings.FieldsFuncSeq(s, func(r rune) bool { return r == ',' || r == '\n' }) {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" || v == "" {
			return nil, fmt.Errorf("%w: an entry is not key: secret", errBadKeys)
		}
		keys[k] = v
	}
	return keys, nil
}

// parseICEServers reads comma separated "URL" or "username:credential@URL"
// entries; the credential may itself hold '@', so the URL starts after the
// last one.
func parseICEServers(s string) ([]ICEServer, error) {
	var out []ICEServer
	for _, e := range splitList(s) {
		var srv ICEServer
		if at := strings.LastIndex(e, "@"); at >= 0 {
			user, cred, ok := strings.Cut(e[:at], ":")
			if !ok {
				return nil, fmt.Errorf("%w: want username:credential@URL", errBadICE)
			}
			srv.Username, srv.Credential, e = user, cred, e[at+1:]
		}
		srv.URLs = []string{e}
		out = append(out, srv)
	}
	return out, nil
}
