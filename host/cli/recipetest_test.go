package cli

import (
	"strings"
	"testing"

	"github.com/cogs-dev/cogs/abi"
)

// resolveTrigger picks the trigger with the longest prefix the key has, as
// the host does, whatever the order of the recipe's triggers.
func TestResolveTriggerLongestPrefix(t *testing.T) {
	meta := &abi.Recipe{Name: "r", Triggers: []abi.Trigger{
		{Prefix: "p:", Data: abi.DataHash},
		{Prefix: "p:doc:", Data: abi.DataJSON},
		{Prefix: "p:d", Data: abi.DataString},
	}}
	for _, tc := range []struct {
		key  string
		want uint32
		data abi.DataKind
	}{
		{"p:1", 0, abi.DataHash},
		{"p:doc:1", 1, abi.DataJSON},
		{"p:dx", 2, abi.DataString},
	} {
		c := abi.Change{Key: tc.key, Op: abi.ChangeDelete}
		if err := resolveTrigger(meta, &c); err != nil || c.Trigger != tc.want || c.Data != tc.data {
			t.Errorf("%s: trigger %d, data %v, %v; want %d, %v", tc.key, c.Trigger, c.Data, err, tc.want, tc.data)
		}
	}
	c := abi.Change{Key: "q:1"}
	if err := resolveTrigger(meta, &c); err == nil || !strings.Contains(err.Error(), "matches no trigger") {
		t.Errorf("a key of no trigger: %v", err)
	}
	c = abi.Change{Key: "p:doc:2", Op: abi.ChangeSet, Fields: []abi.Field{{Name: "a", Value: "1"}}}
	if err := resolveTrigger(meta, &c); err == nil || !strings.Contains(err.Error(), "give doc instead") {
		t.Errorf("fields for a JSON trigger: %v", err)
	}
}
