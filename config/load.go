package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"reflect"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Load builds the configuration of command name from defaults, the YAML
// file given by -config (or MCU_CONFIG), the environment (environ, e.g.
// os.Environ()) and the flags in args, then validates it. Flag errors and
// -h usage go to out; -h returns flag.ErrHelp. MCU_* variables that are no
// setting are reported by Warnings, not refused, since scripts and tests
// use a few of their own.
func Load(name string, args []string, environ []string, out io.Writer) (*Config, error) {
	c := Default()
	env := map[string]string{}
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	lookupEnv := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	for _, k := range sortedKeys(env) {
		if strings.HasPrefix(k, "MCU_") && k != "MCU_CONFIG" && !slices.ContainsFunc(fields, func(f field) bool { return f.env == k }) {
			c.warnings = append(c.warnings, fmt.Sprintf("env %s is not a setting and is ignored (settings: docs/config.md)", k))
		}
	}
	fs, configPath, flagged := c.flagSet(name, out)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, fmt.Errorf("config: %w", err)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("config: unexpected argument %q (settings are flags, e.g. -fps 15)", fs.Arg(0))
	}
	path := *configPath
	if path == "" {
		path, _ = lookupEnv("MCU_CONFIG")
	}
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("config: reading the config file: %w", err)
		}
		if err := c.ApplyYAML(path, data); err != nil {
			return nil, err
		}
	}
	if err := c.ApplyEnv(lookupEnv); err != nil {
		return nil, err
	}
	// Flags were checked while parsing; now they win over file and env.
	for _, fv := range *flagged {
		if err := fv.f.setString(c, fv.raw); err != nil {
			return nil, fmt.Errorf("config: flag -%s: %w", fv.f.flag, err)
		}
		c.setOrigin(fv.f.key, "flag -"+fv.f.flag)
	}
	if err := c.loadKeysFile(); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// flagValue is a flag that records its raw text, so that it can be applied
// after the file and the environment.
type flagValue struct {
	f    *field
	raw  string
	set  *[]*flagValue
	def  string
	bool bool
}

func (v *flagValue) String() string {
	if v == nil {
		return ""
	}
	return v.def
}

func (v *flagValue) IsBoolFlag() bool { return v.bool }

func (v *flagValue) Set(s string) error {
	// Check the syntax now so the flag package names the flag.
	if err := v.f.setString(Default(), s); err != nil {
		return errors.New(describe(v.f, err))
	}
	v.raw = s
	*v.set = append(*v.set, v)
	return nil
}

func (c *Config) flagSet(name string, out io.Writer) (*flag.FlagSet, *string, *[]*flagValue) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	configPath := fs.String("config", "", "YAML config file (env MCU_CONFIG); see docs/config.md")
	flagged := new([]*flagValue)
	def := Default()
	for i := range fields {
		f := &fields[i]
		if f.flag == "" {
			continue
		}
		usage := f.usage
		if f.env != "" {
			usage += " (env " + f.env + ", key " + f.key + ")"
		}
		d := f.text(def)
		fs.Var(&flagValue{f: f, set: flagged, def: d, bool: f.typ.Kind() == reflect.Bool}, f.flag, usage)
	}
	return fs, configPath, flagged
}

// ApplyEnv applies every MCU_* variable that lookupEnv finds. A malformed
// variable is an error naming it.
func (c *Config) ApplyEnv(lookupEnv func(string) (string, bool)) error {
	for i := range fields {
		f := &fields[i]
		if f.env == "" {
			continue
		}
		s, ok := lookupEnv(f.env)
		if !ok {
			continue
		}
		if err := f.setString(c, s); err != nil {
			shown := s
			if f.secret {
				shown = mask
			}
			return badValue("env %s=%q (key %s): %s", f.env, shown, f.key, describe(f, err))
		}
		c.setOrigin(f.key, "env "+f.env)
	}
	return nil
}

// ApplyYAML applies the YAML document data, read from file name. Unknown
// keys and malformed values are errors naming the file, line and key.
func (c *Config) ApplyYAML(name string, data []byte) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("config: %s: %w", name, err)
	}
	if len(doc.Content) == 0 {
		return nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return badValue("%s:%d: want a mapping of keys such as \"http: 127.0.0.1:8080\"", name, root.Line)
	}
	return c.applyMapping(name, root, "")
}

func (c *Config) applyMapping(name string, m *yaml.Node, prefix string) error {
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		key := prefix + k.Value
		if f := lookupField(key); f != nil {
			if err := c.applyNode(name, f, v); err != nil {
				return err
			}
			c.setOrigin(key, fmt.Sprintf("%s:%d", name, v.Line))
			continue
		}
		if slices.ContainsFunc(fields, func(f field) bool { return strings.HasPrefix(f.key, key+".") }) {
			if v.Kind != yaml.MappingNode {
				return badValue("%s:%d: %s: want a mapping of %s", name, v.Line, key, strings.Join(keysUnder(key+"."), ", "))
			}
			if err := c.applyMapping(name, v, key+"."); err != nil {
				return err
			}
			continue
		}
		where := "allowed keys"
		if prefix != "" {
			where += " under " + strings.TrimSuffix(prefix, ".")
		}
		return &Error{Msg: fmt.Sprintf("%s:%d: unknown key %q; %s: %s", name, k.Line, key, where, strings.Join(keysUnder(prefix), ", ")), Kind: ErrUnknownKey}
	}
	return nil
}

func (c *Config) applyNode(name string, f *field, v *yaml.Node) error {
	bad := func(line int, msg string) error {
		return badValue("%s:%d: %s: %s", name, line, f.key, msg)
	}
	if v.Tag == "!!null" {
		return nil
	}
	val := reflect.ValueOf(c).Elem().FieldByIndex(f.index)
	switch f.typ {
	case stringsType:
		list, err := scalars(v)
		if err != nil {
			return bad(v.Line, "want a list of strings")
		}
		val.Set(reflect.ValueOf(list))
		return nil
	case keysType:
		if v.Kind != yaml.MappingNode {
			return bad(v.Line, "want key: secret pairs")
		}
		keys := map[string]string{}
		for i := 0; i+1 < len(v.Content); i += 2 {
			if v.Content[i+1].Kind != yaml.ScalarNode || v.Content[i+1].Value == "" {
				return bad(v.Content[i].Line, fmt.Sprintf("key %q: want a secret string", v.Content[i].Value))
			}
			keys[v.Content[i].Value] = v.Content[i+1].Value
		}
		val.Set(reflect.ValueOf(keys))
		return nil
	case iceServerType:
		if v.Kind != yaml.SequenceNode {
			return bad(v.Line, "want a list of {urls, username, credential}")
		}
		var servers []ICEServer
		for _, item := range v.Content {
			s, err := iceServerNode(item)
			if err != nil {
				return bad(item.Line, err.Error())
			}
			servers = append(servers, s)
		}
		val.Set(reflect.ValueOf(servers))
		return nil
	}
	if v.Kind != yaml.ScalarNode {
		return bad(v.Line, "want "+want(f.typ))
	}
	if err := f.setString(c, v.Value); err != nil {
		return bad(v.Line, fmt.Sprintf("%q: %s", v.Value, describe(f, err)))
	}
	return nil
}

func iceServerNode(n *yaml.Node) (ICEServer, error) {
	var s ICEServer
	if n.Kind != yaml.MappingNode {
		return s, errors.New("want a mapping of urls, username, credential")
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		var err error
		switch k.Value {
		case "urls":
			s.URLs, err = scalars(v)
		case "username":
			s.Username, err = scalar(v)
		case "credential":
			s.Credential, err = scalar(v)
		default:
			return s, fmt.Errorf("unknown key %q; allowed keys: urls, username, credential", k.Value)
		}
		if err != nil {
			return s, fmt.Errorf("%s: %w", k.Value, err)
		}
	}
	return s, nil
}

func scalar(n *yaml.Node) (string, error) {
	if n.Kind != yaml.ScalarNode {
		return "", errors.New("want a string")
	}
	return n.Value, nil
}

// scalars reads a YAML list of strings, or one comma separated string.
func scalars(n *yaml.Node) ([]string, error) {
	if n.Kind == yaml.ScalarNode {
		return splitList(n.Value), nil
	}
	if n.Kind != yaml.SequenceNode {
		return nil, errors.New("want a list of strings")
	}
	var out []string
	for _, e := range n.Content {
		s, err := scalar(e)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// loadKeysFile adds the pairs of keys_file to keys.
func (c *Config) loadKeysFile() error {
	if c.KeysFile == "" {
		return nil
	}
	data, err := os.ReadFile(c.KeysFile)
	if err != nil {
		return fmt.Errorf("config: keys_file: %w", err)
	}
	var keys map[string]string
	if err := yaml.Unmarshal(data, &keys); err != nil {
		return badValue("keys_file %s: want a YAML mapping of key: secret", c.KeysFile)
	}
	merged := maps.Clone(c.Keys)
	if merged == nil {
		merged = map[string]string{}
	}
	for k, v := range keys {
		if k == "" || v == "" {
			return badValue("keys_file %s: key %q has an empty secret", c.KeysFile, k)
		}
		merged[k] = v
	}
	c.Keys = merged
	return nil
}

func lookupField(key string) *field {
	for i := range fields {
		if fields[i].key == key {
			return &fields[i]
		}
	}
	return nil
}

// keysUnder lists the names one level below prefix ("" for the top level).
func keysUnder(prefix string) []string {
	var out []string
	for _, f := range fields {
		rest, ok := strings.CutPrefix(f.key, prefix)
		if !ok {
			continue
		}
		name, _, _ := strings.Cut(rest, ".")
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out
}

func describe(f *field, err error) string {
	if errors.Is(err, errWant) {
		return "want " + want(f.typ)
	}
	return err.Error()
}

func (c *Config) setOrigin(key, from string) {
	if c.origin == nil {
		c.origin = map[string]string{}
	}
	c.origin[key] = from
}

// Warnings lists what Load ignored, such as an unknown MCU_* variable.
func (c *Config) Warnings() []string { return c.warnings }

// Origin says where the value of key came from: "default", "FILE:LINE",
// "env MCU_X" or "flag -x".
func (c *Config) Origin(key string) string {
	if o, ok := c.origin[key]; ok {
		return o
	}
	return "default"
}
