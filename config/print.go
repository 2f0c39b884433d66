package config

import (
	"fmt"
	"io"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// WriteYAML writes c as a YAML config file, each key preceded by its
// documentation, with every secret masked.
func (c *Config) WriteYAML(w io.Writer) error {
	root := &yaml.Node{Kind: yaml.MappingNode}
	groups := map[string]*yaml.Node{"": root}
	for i := range fields {
		f := &fields[i]
		parent := ""
		name := f.key
		if dot := strings.LastIndex(f.key, "."); dot >= 0 {
			parent, name = f.key[:dot], f.key[dot+1:]
		}
		m, ok := groups[parent]
		if !ok {
			m = &yaml.Node{Kind: yaml.MappingNode}
			groups[parent] = m
			root.Content = append(root.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: parent}, m)
		}
		k := &yaml.Node{Kind: yaml.ScalarNode, Value: name, HeadComment: wrap(f.usage, 76)}
		m.Content = append(m.Content, k, c.node(f))
	}
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return fmt.Errorf("config: writing YAML: %w", err)
	}
	return enc.Close()
}

func (c *Config) node(f *field) *yaml.Node {
	str := func(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }
	v := reflect.ValueOf(c).Elem().FieldByIndex(f.index)
	switch f.typ {
	case durationType:
		return str(time.Duration(v.Int()).String())
	case sizeType:
		return str(Size(v.Int()).String())
	case stringsType:
		seq := &yaml.Node{Kind: yaml.SequenceNode}
		for _, s := range v.Interface().([]string) {
			seq.Content = append(seq.Content, str(s))
		}
		if len(seq.Content) == 0 {
			seq.Style = yaml.FlowStyle
		}
		return seq
	case keysType:
		m := &yaml.Node{Kind: yaml.MappingNode}
		for _, k := range sortedKeys(v.Interface().(map[string]string)) {
			m.Content = append(m.Content, str(k), str(mask))
		}
		if len(m.Content) == 0 {
			m.Style = yaml.FlowStyle
		}
		return m
	case iceServerType:
		seq := &yaml.Node{Kind: yaml.SequenceNode}
		for _, s := range v.Interface().([]ICEServer) {
			urls := &yaml.Node{Kind: yaml.SequenceNode}
			for _, u := range s.URLs {
				urls.Content = append(urls.Content, str(u))
			}
			m := &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{str("urls"), urls}}
			if s.Username != "" {
				m.Content = append(m.Content, str("username"), str(s.Username))
			}
			if s.Credential != "" {
				m.Content = append(m.Content, str("credential"), str(mask))
			}
			seq.Content = append(seq.Content, m)
		}
		if len(seq.Content) == 0 {
			seq.Style = yaml.FlowStyle
		}
		return seq
	}
	if f.secret && f.typ.Kind() == reflect.String && v.String() != "" {
		// A URL keeps its host; only its password is hidden.
		if u, err := url.Parse(v.String()); err == nil && u.Host != "" {
			return str(u.Redacted())
		}
		return str(mask)
	}
	switch f.typ.Kind() {
	case reflect.Bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(v.Bool())}
	case reflect.Int:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.FormatInt(v.Int(), 10)}
	}
	return str(v.String())
}

// Markdown documents every key: the body of docs/config.md.
func Markdown() string {
	var b strings.Builder
	b.WriteString("# Configuration\n\n")
	b.WriteString("<!-- Generated from config/config.go by `go test ./config -run TestDocs -update`; do not edit. -->\n\n")
	b.WriteString("`mcu serve` reads, in this order, later ones winning: the defaults below, the YAML file given by\n")
	b.WriteString("`-config FILE` (or `MCU_CONFIG`), the `MCU_*` environment variables, then the flags. Unknown keys,\n")
	b.WriteString("values outside what a key allows and malformed variables stop the server with an error naming the\n")
	b.WriteString("key, variable or flag and the allowed values. `mcu config` (same flags) prints the effective\n")
	b.WriteString("configuration as YAML, secrets masked. A commented sample is `mcu.example.yaml`.\n\n")
	b.WriteString("Durations are written like `30s` or `2m`; sizes like `512MB` or `2GiB`; lists in YAML as lists,\n")
	b.WriteString("and comma separated in variables and flags.\n\n")
	b.WriteString("| key | env | flag | default | meaning |\n|---|---|---|---|---|\n")
	def := Default()
	for i := range fields {
		f := &fields[i]
		env, flg := "", ""
		if f.env != "" {
			env = "`" + f.env + "`"
		}
		if f.flag != "" {
			flg = "`-" + f.flag + "`"
		}
		d := f.text(def)
		if d != "" {
			d = "`" + d + "`"
		}
		usage := f.usage
		if f.typ == iceServerType {
			usage += " YAML: a list of `{urls, username, credential}`."
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", f.key, env, flg, d, strings.ReplaceAll(usage, "|", "\\|"))
	}
	return b.String()
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func wrap(s string, width int) string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(s) {
		if line != "" && len(line)+1+len(w) > width {
			lines = append(lines, line)
			line = w
			continue
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	return strings.Join(append(lines, line), "\n")
}
