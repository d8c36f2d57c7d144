package frontend

import (
	"strings"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string // "" valid, else the field named in the error
	}{
		{Config{}, ""},
		{Config{Upstream: "h:1", Username: "u", Password: "p", DB: 3}, ""},
		{Config{DB: -1}, "db:"},
		{Config{Username: "u"}, "username:"},
		{Config{MaxClients: -1}, "max_clients:"},
		{Config{MaxBulk: -1}, "max_bulk:"},
		{Config{MaxArgs: -1}, "max_args:"},
		{Config{MaxPipeline: -1}, "max_pipeline:"},
	} {
		err := tc.cfg.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%+v: %v", tc.cfg, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%+v: %v, want an error naming %s", tc.cfg, err, tc.want)
		}
		if _, err := New(tc.cfg); (err != nil) != (tc.want != "") {
			t.Errorf("New(%+v): %v", tc.cfg, err)
		}
	}
}
