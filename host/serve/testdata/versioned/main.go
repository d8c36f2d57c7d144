// Command versioned is a test recipe configured entirely by its load-time
// configuration, "key=value;...": name (default "items"), version (default
// "1.0.0"), prefix (default "item:"; empty: no trigger) and connection
// (default "db"). A hash <prefix><id> with a field v becomes a row of
// table items (id, v, mapped_by), mapped_by being the recipe's version, so
// that a test can tell which version mapped each change.
package main

import (
	"errors"
	"strings"

	cogs "github.com/cogs-dev/cogs/sdk/go"
)

var version string

func init() {
	cogs.Register(cogs.Recipe{
		Name:    "items",
		Version: "1.0.0",
		Init:    configure,
		Map:     mapItem,
	})
}

func configure(config []byte, r *cogs.Recipe) error {
	prefix, conn := "item:", "db"
	for _, kv := range strings.Split(string(config), ";") {
		if kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return errors.New("config: want key=value;..., got " + kv)
		}
		switch k {
		case "name":
			r.Name = v
		case "version":
			r.Version = v
		case "prefix":
			prefix = v
		case "connection":
			conn = v
		default:
			return errors.New("config: unknown key " + k)
		}
	}
	version = r.Version
	if prefix != "" {
		r.Triggers = []cogs.Trigger{{Prefix: prefix, Data: cogs.Hash, Connection: conn}}
	}
	return nil
}

func mapItem(c *cogs.Change, out *cogs.Output) {
	id := cogs.String(c.KeySuffix())
	if c.Deleted() {
		out.Delete("items").Key("id", id)
		return
	}
	out.Upsert("items").Key("id", id).Col("v", c.Value("v")).Col("mapped_by", cogs.String(version))
}

func main() {}
